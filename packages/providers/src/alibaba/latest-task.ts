import { parseMillis } from './normalize.js';

/**
 * DescribeImageLatestScanTask(Digest): the latest IMAGE_SCAN task of an image, `Task[]` of
 * `{TaskId, TaskType, Status, Finish, StartTime, FinishTime (ms), Source openapi|console_batch,
 * Target}`. What it says about a task scanq may have created at or after `since`.
 */
export type LatestTaskVerdict =
  /** A task started through the API at or after `since`: the one an ambiguous create made, most likely. */
  | { kind: 'started'; taskId: string; startedAt: number }
  /**
   * Another task still scanning the image: a task created at `since` would have left the image
   * to it (ScaResult forbid_create_repeat_task), so this image cannot tell.
   */
  | { kind: 'undecided' }
  /** No task since `since`, none running: a task created at `since` would show here, so none was. */
  | { kind: 'none' };

/** Final task statuses (this API spells the timeout "TIMOUT"). */
const FINAL = new Set(['SUCCESS', 'FAIL', 'TIMOUT', 'TIMEOUT']);

export function latestTaskVerdict(body: Record<string, unknown>, since: Date): LatestTaskVerdict {
  const tasks = (Array.isArray(body.Task) ? body.Task : []).filter((t): t is Record<string, unknown> => typeof t === 'object' && t !== null);
  let undecided = false;
  let best: { taskId: string; startedAt: number } | undefined;
  for (const task of tasks) {
    if (task.TaskType !== undefined && task.TaskType !== 'IMAGE_SCAN') continue;
    const taskId = typeof task.TaskId === 'string' ? task.TaskId : '';
    const startedAt = parseMillis(task.StartTime)?.getTime();
    const running = !FINAL.has(String(task.Status ?? '').toUpperCase()) && !parseMillis(task.FinishTime);
    // A console task is somebody else's; one started since `since` also hides whether ours exists.
    const fromApi = task.Source === undefined || task.Source === 'openapi';
    if (taskId && startedAt !== undefined && startedAt >= since.getTime()) {
      if (fromApi && (!best || startedAt < best.startedAt)) best = { taskId, startedAt };
      else if (!fromApi) undecided = true;
    } else if (running) {
      undecided = true;
    }
  }
  if (best) return { kind: 'started', ...best };
  return undecided ? { kind: 'undecided' } : { kind: 'none' };
}
