import { type Static, Type } from '@sinclair/typebox';

export const UserIdParams = Type.Object({
  user_id: Type.String({
    minLength: 1,
    maxLength: 256,
    description: 'The user’s id as events carry it (URL-encoded in the path)',
    examples: ['user-42'],
  }),
});

export const UserErased = Type.Object(
  {
    user_id: Type.String(),
    deleted_events: Type.Integer({
      minimum: 0,
      description:
        'Raw events of the user deleted now (events that had already expired under retention are not counted: they were gone already, and the summaries were corrected for them too)',
    }),
  },
  { description: 'The user is erased: no raw event and no summary counts them any more' },
);
export type UserErased = Static<typeof UserErased>;
