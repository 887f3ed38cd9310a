import { jest } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { DeliveryWorker } from '../../src/endpoints/deliveries/delivery-worker.service.js';
import { type Claim, DeliveryRepository } from '../../src/endpoints/deliveries/delivery.repository.js';

/**
 * Runs `afterClaim` on every claim of the delivery worker from now on, before the worker sees the
 * claim; resolves once a claim has gone through it. A claim begun before the hook (at start-up, or woken
 * by a new endpoint) could otherwise still lease what the test publishes next and send it unseen;
 * claims run one at a time, so by then it is back. `jest.restoreAllMocks()` removes the hook.
 */
export async function hookClaims(
  app: INestApplication,
  afterClaim: (claim: Claim) => Promise<void> | void,
): Promise<void> {
  const repository = app.get(DeliveryRepository);
  const claim = repository.claim.bind(repository);
  let hooked!: () => void;
  const oneHooked = new Promise<void>((resolve) => (hooked = resolve));
  jest.spyOn(repository, 'claim').mockImplementation(async (...args) => {
    const result = await claim(...args);
    hooked();
    await afterClaim(result);
    return result;
  });
  app.get(DeliveryWorker).deliveriesQueued();
  await oneHooked;
}
