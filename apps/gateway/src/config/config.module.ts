import { type DynamicModule, Global, Module } from '@nestjs/common';
import { v7 as uuidv7 } from 'uuid';
import { HERALD_CONFIG, type HeraldConfig, INSTANCE_ID } from './herald-config.js';

@Global()
@Module({})
export class ConfigModule {
  static forRoot(config: HeraldConfig): DynamicModule {
    return {
      module: ConfigModule,
      providers: [
        { provide: HERALD_CONFIG, useValue: config },
        { provide: INSTANCE_ID, useValue: uuidv7() },
      ],
      exports: [HERALD_CONFIG, INSTANCE_ID],
    };
  }
}
