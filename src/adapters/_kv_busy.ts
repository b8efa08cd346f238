// Copyright 2026 the locco authors. MIT license.
// DenoKvAdapter's retry of calls that a busy local SQLite database refused.

// A local SQLite database shared by several handles or processes answers
// "database is locked" while another one writes; such a call did not happen,
// so it is tried again, with a growing random pause, for about this long.
const BUSY_RETRY_MS = 2000;
const BUSY = /database is locked|database table is locked|SQLITE_BUSY/i;

function isBusy(error: unknown): boolean {
  return error instanceof Error && BUSY.test(error.message);
}

/** Runs `call` again while the database is busy, up to BUSY_RETRY_MS; other errors pass through. */
export async function unlessBusy<T>(call: () => Promise<T>): Promise<T> {
  let pause = 1;
  const deadline = Date.now() + BUSY_RETRY_MS;
  for (;;) {
    try {
      return await call();
    } catch (error) {
      if (!isBusy(error) || Date.now() >= deadline) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, pause * (0.5 + Math.random())));
    pause = Math.min(pause * 2, 50);
  }
}
