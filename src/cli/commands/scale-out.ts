// Commands for scoring beyond one machine (#13): `merge` (of `predict --shard` runs), `queue`, `worker`.
import { registerMerge } from './merge.ts';
import { registerQueue } from './queue.ts';
import { registerWorker } from './worker.ts';

export const scaleOutCommands = [registerMerge, registerQueue, registerWorker];
