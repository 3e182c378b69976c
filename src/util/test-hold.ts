// Test hook: makes a process stop at a named point so that tests can act on an event instead of on timing.
// MVFA_TEST_HOLD=<point>:<n> holds the process, forever, the n-th time it reaches <point>, after printing
// `mvfa-test-hold <point> <n>` on stderr. Unset (the normal case) it does nothing. Points:
//   checkpoint   after the resumable training state of an epoch is durable on disk (n = epochs done)

/** Holds the process here when MVFA_TEST_HOLD names this point and count; otherwise returns at once. */
export async function testHold(point: string, n: number): Promise<void> {
  const want = process.env.MVFA_TEST_HOLD;
  if (!want || want !== `${point}:${n}`) return;
  process.stderr.write(`mvfa-test-hold ${point} ${n}\n`);
  // Keep the event loop alive and never resolve: the test kills the process.
  setInterval(() => {}, 1 << 30);
  await new Promise<never>(() => {});
}
