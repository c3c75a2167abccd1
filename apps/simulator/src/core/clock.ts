/**
 * The simulator's notion of "now". Real time plus an offset that tests can advance (e.g. past
 * ECR's 24 h window) through `POST /_sim/clock`.
 */
export class SimClock {
  private offsetMs = 0;

  now(): number {
    return Date.now() + this.offsetMs;
  }

  advance(ms: number): void {
    this.offsetMs += ms;
  }

  reset(): void {
    this.offsetMs = 0;
  }

  get offset(): number {
    return this.offsetMs;
  }
}
