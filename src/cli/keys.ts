/**
 * API keys (each belongs to one project; `--project` defaults to `default`):
 *
 *   npm run keys -- create NAME [--project SLUG] [--scope write|read|all|admin]   the key on the last line
 *   npm run keys -- list [--project SLUG]                                        names, scopes, dates (never keys)
 *   npm run keys -- revoke NAME [--project SLUG]
 *
 * Uses DATABASE_URL, or the embedded PostgreSQL of `npm start` (shared if it is running).
 */
import { parseArgs } from 'node:util';
import { createKey, listKeys, revokeKey, SCOPES, type Scope } from '../auth/keys.js';
import { DEFAULT_PROJECT, findProject, SLUG } from '../projects/repository.js';
import { runCli, UsageError } from './run-cli.js';

const USAGE =
  'usage: keys create NAME [--project SLUG] [--scope write|read|all|admin] | keys list [--project SLUG] | keys revoke NAME [--project SLUG]';
const NAME = /^[A-Za-z0-9._:-]{1,64}$/;

type Command =
  | { verb: 'create'; project: string; name: string; scope: Scope }
  | { verb: 'list'; project: string }
  | { verb: 'revoke'; project: string; name: string };

function parseCommand(argv: string[]): Command {
  let parsed: { values: { scope?: string; project?: string }; positionals: string[] };
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { scope: { type: 'string' }, project: { type: 'string' } },
    });
  } catch (error) {
    throw new UsageError(`${error instanceof Error ? error.message : String(error)}\n${USAGE}`);
  }
  const project = parsed.values.project ?? DEFAULT_PROJECT;
  if (!SLUG.test(project)) {
    throw new UsageError(`--project must be a project slug ([a-z0-9-]{1,40}), got "${project}"`);
  }
  const [verb, name, ...rest] = parsed.positionals;
  if (rest.length > 0) throw new UsageError(USAGE);
  if (verb === 'list' && name === undefined) return { verb, project };
  if ((verb === 'create' || verb === 'revoke') && name !== undefined) {
    if (!NAME.test(name)) {
      throw new UsageError(`NAME must be 1-64 characters of A-Z a-z 0-9 . _ : -, got "${name}"`);
    }
    if (verb === 'revoke') return { verb, project, name };
    const scope = parsed.values.scope ?? 'write';
    if (!(SCOPES as readonly string[]).includes(scope)) {
      throw new UsageError(`--scope must be one of ${SCOPES.join(', ')}, got "${scope}"`);
    }
    return { verb, project, name, scope: scope as Scope };
  }
  throw new UsageError(USAGE);
}

runCli('keys', parseCommand, async (db, command, out) => {
  const project = await findProject(db, { slug: command.project });
  if (!project) throw new UsageError(`no project "${command.project}"`);
  switch (command.verb) {
    case 'create': {
      const created = await createKey(db, project.id, command.name, command.scope);
      if (!created) {
        throw new UsageError(
          `a key named "${command.name}" exists already in project ${project.slug}`,
        );
      }
      out(
        `Created key "${command.name}" (id ${created.id}) for project ${project.slug} with scope ${command.scope}. It is shown once; store it now:\n${created.key}\n`,
      );
      return;
    }
    case 'list': {
      const keys = await listKeys(db, project.id);
      if (keys.length === 0) out(`no keys in project ${project.slug}\n`);
      for (const k of keys) {
        const state = k.revoked_at ? `revoked ${k.revoked_at}` : 'active';
        out(
          `${k.name}\t${k.scope}\tcreated ${k.created_at}\tlast used ${k.last_used_at ?? 'never'}\t${state}\tid ${k.id}\n`,
        );
      }
      return;
    }
    case 'revoke': {
      if (!(await revokeKey(db, project.id, { name: command.name }))) {
        throw new UsageError(`no active key named "${command.name}" in project ${project.slug}`);
      }
      out(
        `Revoked key "${command.name}" of project ${project.slug} (it stops working within 5 s)\n`,
      );
      return;
    }
  }
});
