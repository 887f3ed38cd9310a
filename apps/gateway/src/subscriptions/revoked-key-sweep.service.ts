import { Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { ApiKeyService } from '../api-keys/api-key.service.js';
import { ClusterBus } from '../cluster/cluster-bus.js';
import { SubscriptionHub } from './subscription-hub.service.js';

/** How often the keys of connected sockets are checked against the key table. */
const SWEEP_MS = 30_000;

/**
 * Cuts off sockets whose API key no longer exists. A revocation reaches every instance as one signal
 * (NOTIFY or Redis), which an instance misses while its listener reconnects, and a handshake that
 * looked its key up just before the deletion joins after the cut-off: without this, such a socket kept
 * receiving every event for as long as it stayed connected.
 */
@Injectable()
export class RevokedKeySweep implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly hub: SubscriptionHub,
    private readonly apiKeys: ApiKeyService,
    private readonly bus: ClusterBus,
    @InjectPinoLogger(RevokedKeySweep.name) private readonly logger: PinoLogger,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.sweep(), SWEEP_MS);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  /** Returns the revoked keys whose sockets were cut off (the gateway calls it every SWEEP_MS). */
  async sweep(): Promise<string[]> {
    const connected = this.hub.connectedKeyIds();
    if (connected.length === 0) return [];
    try {
      const revoked = await this.apiKeys.revokedAmong(connected);
      for (const keyId of revoked) {
        this.logger.warn({ keyId }, 'cut off sockets of an API key revoked while its signal was missed');
        this.bus.revokedUnnoticed(keyId);
      }
      return revoked;
    } catch (error) {
      this.logger.warn({ err: error }, 'could not check the API keys of connected sockets');
      return [];
    }
  }
}
