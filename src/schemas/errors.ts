import { type Static, Type } from '@sinclair/typebox';

export const ErrorDetail = Type.Object(
  {
    index: Type.Optional(Type.Integer({ description: 'Position of the event in the batch' })),
    field: Type.String({ description: 'Offending field (or query parameter)' }),
    message: Type.String(),
    code: Type.Optional(
      Type.String({
        description:
          'A reason with its own code: `outside_retention` for an event older than its project’s raw retention horizon',
        examples: ['outside_retention'],
      }),
    ),
  },
  {},
);
export type ErrorDetail = Static<typeof ErrorDetail>;

/** The one error shape every endpoint answers with. */
export const ErrorResponse = Type.Object(
  {
    error: Type.String({
      description: 'Machine-readable code',
      examples: ['validation_error'],
    }),
    message: Type.String({ examples: ['2 of 3 events are invalid; nothing was stored'] }),
    details: Type.Optional(Type.Array(ErrorDetail)),
  },
  { description: 'Error' },
);
export type ErrorResponse = Static<typeof ErrorResponse>;
