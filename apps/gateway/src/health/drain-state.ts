import { Injectable } from '@nestjs/common';

/**
 * Whether this instance is shutting down. From the signal on it leaves the rotation (readiness answers
 * 503, new subscriber sockets are refused) while it finishes what it holds: shutdown lets running
 * webhook attempts finish for up to 10 s before the HTTP server and the sockets close, and for those
 * seconds a balancer still routing to it would hand it subscribers that are cut off moments later.
 */
@Injectable()
export class DrainState {
  private draining = false;

  get active(): boolean {
    return this.draining;
  }

  begin(): void {
    this.draining = true;
  }
}
