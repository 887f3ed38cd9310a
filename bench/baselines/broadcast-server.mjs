// Bare fan-out baseline: node:http + socket.io, no database. Each socket `subscribe`s with a list of
// exact types (it joins one room per type); each POSTed SeaTable body is parsed and broadcast at once
// to the room of its type, then answered 202.
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { Server } from 'socket.io';

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    const { data } = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    const type = data.op_type === 'modify_row' ? 'seatable.row.modified' : 'seatable.row.inserted';
    const event = { id: randomUUID(), type, subject: `tables/${data.table_id}/rows/${data.row_id}`, data };
    io.of('/events').to(type).emit('event', { event });
    res
      .writeHead(202, { 'content-type': 'application/json' })
      .end(JSON.stringify({ accepted: 1, ids: [event.id] }));
  });
});
const io = new Server(server, { transports: ['websocket'] });
io.of('/events').on('connection', (socket) => {
  socket.on('subscribe', (filter, ack) => {
    for (const type of filter.types) socket.join(type);
    ack({ ok: true });
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${server.address().port}\n`));
process.on('SIGTERM', () => io.close(() => process.exit(0)));
