import type { INestApplicationContext } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import type { Server, ServerOptions } from 'socket.io';
import type { ClusterBus } from './cluster-bus.js';

/** Nest's socket.io adapter, with the namespaces on the cluster bus's socket.io adapter. */
export class ClusterIoAdapter extends IoAdapter {
  constructor(
    app: INestApplicationContext,
    private readonly bus: ClusterBus,
  ) {
    super(app);
  }

  override createIOServer(port: number, options?: ServerOptions): Server {
    return super.createIOServer(port, { ...options, adapter: this.bus.socketAdapter } as ServerOptions);
  }
}
