/** A job as the dashboard's job page shows it over a reader: its offloaded payload read back. */
import { isUnreadable, markUnreadable } from "../queue/payload-object.js";
import type { QueueReader } from "../queue/reader.js";
import type { JobRecord } from "../queue/types.js";

/**
 * Job `id` of a reader, its offloaded payload loaded; one whose object is
 * still damaged or gone on a second read is marked as a listing marks it.
 */
export async function readerJob(reader: QueueReader, id: string): Promise<JobRecord | null> {
  const job = reader.getJob(id);
  if (job === null || job.payloadRef === undefined) return job;
  for (let read = 1; ; read++) {
    try {
      return { ...job, payload: await reader.loadPayload(job) };
    } catch (error) {
      if (!isUnreadable(error)) throw error;
      if (read === 2) return markUnreadable({ ...job }, error);
    }
  }
}
