import { Global, Module } from '@nestjs/common';
import { DrainState } from './drain-state.js';
import { HealthController } from './health.controller.js';

/** Liveness, readiness, and the drain state the shutdown sets (global: the socket gateway reads it). */
@Global()
@Module({ controllers: [HealthController], providers: [DrainState], exports: [DrainState] })
export class HealthModule {}
