import { Type } from '@sinclair/typebox';

export const Health = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('error')], { examples: ['ok'] }),
  db: Type.Union([Type.Literal('ok'), Type.Literal('unavailable')], { examples: ['ok'] }),
});
