import { CreateEventLogAndApiKeys1795449600000 } from './1795449600000-CreateEventLogAndApiKeys.js';
import { CreateSources1795449700000 } from './1795449700000-CreateSources.js';
import { CreateEndpointsAndDeliveries1795449800000 } from './1795449800000-CreateEndpointsAndDeliveries.js';

/** Every migration, oldest first. Listed explicitly: TypeORM globs do not work with ESM builds. */
export const migrations = [
  CreateEventLogAndApiKeys1795449600000,
  CreateSources1795449700000,
  CreateEndpointsAndDeliveries1795449800000,
];
