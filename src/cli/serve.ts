import { invalid } from "../domain/errors";
import { startServer } from "../server";
import type { CommandModule } from "./context";

const serve: CommandModule = (parent, ctx) => {
  parent
    .command("serve")
    .description("run drover's servers in the foreground until SIGINT/SIGTERM")
    .option("--port <port>", "HTTP port for iPXE scripts, kernels, images, overlays, the API and the web page", "9873")
    .option("--listen <address>", "address the HTTP server listens on", "0.0.0.0")
    .addHelpText(
      "after",
      `
DHCP never starts on a network nobody told drover to serve.
Examples:
  drover serve                          HTTP on :9873, data in /var/lib/drover (root) or ./.drover
  drover --data-dir /srv/drover serve --port 8080`,
    )
    .action(async (opts) => {
      const port = Number(opts.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw invalid(`--port ${opts.port} is not a port number (0-65535)`);
      const svc = ctx.services();
      const server = await startServer(svc, { httpPort: port, listen: opts.listen }, (l) => ctx.io.err(`${l}\n`));
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
      });
      ctx.io.err("drover: stopping\n");
      await server.stop();
    });
};
export default serve;
