/**
 * npm run cluster -- start|stop|status|destroy|add-worker
 *
 * A local Citus cluster (coordinator + workers) for development and tests; see
 * tools/citus/local-cluster.ts and docs/citus-notes.md. Progress goes to stderr; stdout
 * has the node lines and, when the cluster runs, the coordinator's DATABASE_URL as its
 * last line.
 *
 * Exit codes: 0 done (status: every node runs), 1 failed, 2 usage, 3 status: not every
 * node runs (or there is no cluster).
 */
import {
  ClusterError,
  clusterOptionsFromEnv,
  LocalCluster,
  type NodeStatus,
} from './local-cluster.js';

const USAGE = `usage: npm run cluster -- start|stop|status|destroy|add-worker

  start       create (first time) and start the coordinator and workers; no-op when running
  stop        stop every node (no process is left)
  status      which nodes run (exit 3 unless all do)
  destroy     stop and remove the data
  add-worker  add one more worker to the running cluster (shards move only when you run
              SELECT citus_rebalance_start() on the coordinator)

env: CITUS_BASE_PORT (9700: coordinator, 9701.. workers), CITUS_WORKERS (2),
     CITUS_DATABASE (events), CITUS_CLUSTER_DIR (.data/citus), PG_BIN_DIR
`;

const progress = (line: string) => process.stderr.write(`cluster: ${line}\n`);
const print = (line: string) => process.stdout.write(`${line}\n`);

function printNodes(nodes: NodeStatus[]): void {
  for (const node of nodes) {
    const state = node.running ? `running (pid ${node.pid})` : 'stopped';
    print(`${node.name.padEnd(12)} 127.0.0.1:${node.port}  ${state}`);
  }
}

async function main(command: string | undefined): Promise<number> {
  if (!['start', 'stop', 'status', 'destroy', 'add-worker'].includes(command ?? '')) {
    process.stderr.write(USAGE);
    return 2;
  }
  const cluster = new LocalCluster(clusterOptionsFromEnv(process.env, progress));
  switch (command) {
    case 'start': {
      const url = await cluster.start();
      printNodes((await cluster.status()) ?? []);
      print(url);
      return 0;
    }
    case 'add-worker': {
      const worker = await cluster.addWorker();
      progress(
        `${worker.name} on port ${worker.port} added; SELECT citus_rebalance_start() on the coordinator moves shards to it`,
      );
      printNodes((await cluster.status()) ?? []);
      print(cluster.url());
      return 0;
    }
    case 'stop':
      await cluster.stop();
      printNodes((await cluster.status()) ?? []);
      return 0;
    case 'destroy':
      await cluster.destroy();
      progress(`removed ${cluster.dir}`);
      return 0;
    default: {
      const nodes = await cluster.status();
      if (!nodes) {
        print(`no cluster in ${cluster.dir}`);
        return 3;
      }
      printNodes(nodes);
      if (!nodes.every((node) => node.running)) return 3;
      print(cluster.url());
      return 0;
    }
  }
}

main(process.argv[2]).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    // A ClusterError is one sentence for the user; anything else also shows where it came from.
    const message =
      error instanceof ClusterError
        ? error.message
        : error instanceof Error
          ? (error.stack ?? error.message)
          : String(error);
    process.stderr.write(`cluster ${process.argv[2]} failed: ${message}\n`);
    process.exitCode = 1;
  },
);
