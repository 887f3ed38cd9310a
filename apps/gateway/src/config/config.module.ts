import { type DynamicModule, Global, Module } from '@nestjs/common';
import { HERALD_CONFIG, type HeraldConfig } from './herald-config.js';

@Global()
@Module({})
export class ConfigModule {
  static forRoot(config: HeraldConfig): DynamicModule {
    return {
      module: ConfigModule,
      providers: [{ provide: HERALD_CONFIG, useValue: config }],
      exports: [HERALD_CONFIG],
    };
  }
}
