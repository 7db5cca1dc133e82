// Shapes of the REST API's answers and stream events the pages read (docs/api.md, docs/dashboard.md).

export interface Session {
  user: string;
  readOnly: boolean;
  via: string;
  csrfToken: string | null;
}

export interface Progress {
  current: number;
  total: number;
}

export interface TaskRow {
  id: string;
  name: string | null;
  state: string;
  worker: string | null;
  queue: string | null;
  runtime: number | null;
  createdAt: number;
  updatedAt: number;
  args?: string | null;
  kwargs?: string | null;
  progress?: Progress | null;
}

export interface TaskPage {
  tasks: TaskRow[];
  next: string | null;
}

export interface TimelineEntry {
  type: string;
  timestamp: number;
  hostname: string | null;
  fields: unknown;
}

export interface TaskDetail extends Omit<TaskRow, 'progress'> {
  known: boolean;
  args: string | null;
  kwargs: string | null;
  argsJson: string | null;
  kwargsJson: string | null;
  result: unknown;
  error: { type: string | null; message: string; traceback: string | null } | null;
  progress: unknown;
  retries: number | null;
  parentId: string | null;
  rootId: string | null;
  groupId: string | null;
  eta: string | null;
  expires: string | null;
  sentAt: number | null;
  receivedAt: number | null;
  startedAt: number | null;
  finishedAt: number | null;
  timeline: TimelineEntry[];
}

export interface TreeNode {
  id: string;
  name: string | null;
  state: string;
  parentId: string | null;
  depth: number;
}

export interface TaskTree {
  id: string;
  rootId: string;
  task: TreeNode;
  parent: TreeNode | null;
  children: TreeNode[];
  group: { id: string; members: TreeNode[] } | null;
  truncated: boolean;
}

export interface WorkerInfo {
  name: string;
  online: boolean;
  lastHeartbeat: number | null;
  heartbeatInterval: number | null;
  active: number | null;
  processed: number | null;
  loadavg: number[] | null;
  pid: number | null;
  swIdent: string | null;
  swVer: string | null;
  swSys: string | null;
  pool: { implementation: string | null; maxConcurrency: number | null; processes: number[] } | null;
  concurrency: number | null;
  queues: string[] | null;
}

export interface WorkerDetail extends WorkerInfo {
  answered: boolean;
  stats: Record<string, unknown> | null;
  registered: string[] | null;
  activeTasks: unknown[] | null;
  reserved: unknown[] | null;
  scheduled: unknown[] | null;
  consumers: unknown[] | null;
  conf: Record<string, unknown> | null;
}

export interface QueueInfo {
  name: string;
  messages: number;
  consumers: number | null;
  consumerNames: string[] | null;
  oldestMessageAgeSeconds: number | null;
  oldestMessageAgeSource?: string | null;
  warning: 'no-consumer' | null;
}

export interface DeadLetter {
  id: string;
  queue: string;
  taskName: string | null;
  taskId: string | null;
  reason: string;
  failedAt: number;
  argsPreview: string | null;
}

export interface Schedule {
  name: string;
  task: string;
  schedule: string;
  paused: boolean;
  nextRunAt: number | null;
  lastRunAt: number | null;
  totalRuns: number;
  lastTaskId: string | null;
  /** Why the schedule cannot fire (a task or schedule that no longer reads), when it cannot. */
  error?: string | null;
}

export interface StatsPoint {
  t: number;
  succeeded: number;
  failed: number;
  retried: number;
  received: number;
  started: number;
  runtimeP50: number | null;
  runtimeP95: number | null;
  waitP50: number | null;
}

export interface Stats {
  step: number;
  points: StatsPoint[];
}
