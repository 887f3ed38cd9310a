// Gateway RSS with 0 and with 10,000 idle subscribers (connected, subscribed, no traffic).
import { printFigure, sleep } from '../support/figures.mjs';
import { rssMiB, startGateway } from '../support/processes.mjs';
import { startSubscribers } from '../support/subscribers.mjs';

export async function idleRssSection({ liveUrl }) {
  const count = 10_000;
  const gateway = await startGateway({ DATABASE_URL: liveUrl });
  try {
    await sleep(2_000);
    const idle = rssMiB(gateway.pid);
    const started = performance.now();
    const subs = await startSubscribers({
      url: `${gateway.baseUrl}/events`,
      token: gateway.adminToken,
      count,
      types: ['seatable.row.modified'],
    });
    const connectSeconds = (performance.now() - started) / 1000;
    await sleep(3_000);
    const loaded = rssMiB(gateway.pid);
    printFigure('herald_rss_0_subscribers', Math.round(idle), 'MiB');
    printFigure(`herald_rss_${count}_idle_subscribers`, Math.round(loaded), 'MiB');
    printFigure('herald_rss_per_idle_subscriber', ((loaded - idle) * 1024) / count, 'KiB');
    printFigure(`herald_connect_${count}_subscribers`, connectSeconds, 's');
    await subs.close();
  } finally {
    await gateway.stop();
  }
}
