import { type DynamicModule, Global, Module } from '@nestjs/common';
import { v7 as uuidv7 } from 'uuid';
import { HERALD_CONFIG, type HeraldConfig, INSTANCE_ID } from './herald-config.js';

@Global()
@Module({})
export class ConfigModule {
  /** `instanceId`: this process's, when its logs already carry it (main.ts); otherwise a new one. */
  static forRoot(config: HeraldConfig, instanceId: string = uuidv7()): DynamicModule {
    return {
      module: ConfigModule,
      providers: [
        { provide: HERALD_CONFIG, useValue: config },
        { provide: INSTANCE_ID, useValue: instanceId },
      ],
      exports: [HERALD_CONFIG, INSTANCE_ID],
    };
  }
}
