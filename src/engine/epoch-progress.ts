// Training progress per epoch: one bar per epoch that counts that epoch's steps (1..steps per epoch) under the label
// "train epoch e/E", so the epoch shown is the one running and the count ends where the epoch ends. (A single bar over
// all epochs, interrupted by epoch-end events, restarted its count and showed the epoch only after it had finished.)

export type ProgressReport = (label: string, done: number, total: number) => void;

/**
 * Returns an onStep handler for fitMvfa (step record, steps per epoch) that reports `${prefix} epoch e/E` with the
 * step count within the epoch. Resumed runs start at the first epoch that still has to run.
 */
export function epochStepper(prefix: string, epochs: number, report: ProgressReport): (s: { epoch: number }, stepsPerEpoch: number) => void {
  let epoch = -1;
  let done = 0;
  return (s, stepsPerEpoch) => {
    if (s.epoch !== epoch) {
      epoch = s.epoch;
      done = 0;
    }
    done++;
    report(`${prefix} epoch ${epoch + 1}/${epochs}`, done, Math.max(stepsPerEpoch, done));
  };
}
