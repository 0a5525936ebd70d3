import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createNodeHandler, type HttpHandlerOptions } from '../../src/http/index.js';
import type { ManaLLM } from '../../src/index.js';
import { track } from './client.js';

/** A node:http server on 127.0.0.1 running `createNodeHandler(llm, options)`, closed by `closeAll`. */
export interface Served {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly server: Server;
  close(): Promise<void>;
}

/** Serves `llm` over HTTP on a free port. */
export async function serveHttp(llm: ManaLLM, options?: HttpHandlerOptions): Promise<Served> {
  const server = createServer(createNodeHandler(llm, options));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return track({
    url: `http://127.0.0.1:${port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}
