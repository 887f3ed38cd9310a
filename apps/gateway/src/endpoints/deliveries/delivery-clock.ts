import { Injectable } from '@nestjs/common';

/**
 * Wall time for delivery rules measured in days (an endpoint failing for five days is disabled), so a
 * test can move it forward. Due times are Postgres `now()`, shared by every instance.
 */
@Injectable()
export class DeliveryClock {
  now(): Date {
    return new Date();
  }
}
