import { CreateEventLogAndApiKeys1795449600000 } from './1795449600000-CreateEventLogAndApiKeys.js';
import { CreateSources1795449700000 } from './1795449700000-CreateSources.js';
import { CreateEndpointsAndDeliveries1795449800000 } from './1795449800000-CreateEndpointsAndDeliveries.js';
import { AddRetentionAndSilenceAlerts1795449900000 } from './1795449900000-AddRetentionAndSilenceAlerts.js';
import { DropDeliveryForeignKeys1795450000000 } from './1795450000000-DropDeliveryForeignKeys.js';
import { IndexLeasesByExpiry1795450100000 } from './1795450100000-IndexLeasesByExpiry.js';
import { RetiredEndpointSecrets1795450200000 } from './1795450200000-RetiredEndpointSecrets.js';
import { DueDeliveriesByEndpoint1795450300000 } from './1795450300000-DueDeliveriesByEndpoint.js';
import { HealthEventReports1795450400000 } from './1795450400000-HealthEventReports.js';
import { MonotonicDeliveryIds1795450500000 } from './1795450500000-MonotonicDeliveryIds.js';
import { GoneAnswersIndex1795450600000 } from './1795450600000-GoneAnswersIndex.js';
import { ShortTokenPrefixes1795450700000 } from './1795450700000-ShortTokenPrefixes.js';
import { AttemptsStoredOnce1795450800000 } from './1795450800000-AttemptsStoredOnce.js';
import { AttemptUrls1795450900000 } from './1795450900000-AttemptUrls.js';
import { EventTypesByPattern1795451000000 } from './1795451000000-EventTypesByPattern.js';
import { VacuumLargeTablesSooner1795451100000 } from './1795451100000-VacuumLargeTablesSooner.js';
import { FailedDeliveriesByEndpoint1795451200000 } from './1795451200000-FailedDeliveriesByEndpoint.js';
import { PreviousIngestTokens1795451300000 } from './1795451300000-PreviousIngestTokens.js';
import { ManualRetries1795451400000 } from './1795451400000-ManualRetries.js';
import { EndpointLastFailures1795451500000 } from './1795451500000-EndpointLastFailures.js';
import { EndpointIdempotencyKeys1795451600000 } from './1795451600000-EndpointIdempotencyKeys.js';
import { EndpointHeaders1795451700000 } from './1795451700000-EndpointHeaders.js';
import { EndpointRateLimits1795451800000 } from './1795451800000-EndpointRateLimits.js';
import { EndpointTypePrefixes1795451900000 } from './1795451900000-EndpointTypePrefixes.js';

/** Every migration, oldest first. Listed explicitly: TypeORM globs do not work with ESM builds. */
export const migrations = [
  CreateEventLogAndApiKeys1795449600000,
  CreateSources1795449700000,
  CreateEndpointsAndDeliveries1795449800000,
  AddRetentionAndSilenceAlerts1795449900000,
  DropDeliveryForeignKeys1795450000000,
  IndexLeasesByExpiry1795450100000,
  RetiredEndpointSecrets1795450200000,
  DueDeliveriesByEndpoint1795450300000,
  HealthEventReports1795450400000,
  MonotonicDeliveryIds1795450500000,
  GoneAnswersIndex1795450600000,
  ShortTokenPrefixes1795450700000,
  AttemptsStoredOnce1795450800000,
  AttemptUrls1795450900000,
  EventTypesByPattern1795451000000,
  VacuumLargeTablesSooner1795451100000,
  FailedDeliveriesByEndpoint1795451200000,
  PreviousIngestTokens1795451300000,
  ManualRetries1795451400000,
  EndpointLastFailures1795451500000,
  EndpointIdempotencyKeys1795451600000,
  EndpointHeaders1795451700000,
  EndpointRateLimits1795451800000,
  EndpointTypePrefixes1795451900000,
];
