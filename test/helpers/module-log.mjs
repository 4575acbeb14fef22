// Preloaded with `node --import` by a test: writes "module loaded: <url>" on stderr for every
// OpenTelemetry module the process resolves (import or require), so a test can see whether any was.
import { registerHooks } from 'node:module';
import process from 'node:process';

registerHooks({
  resolve(specifier, context, nextResolve) {
    const resolved = nextResolve(specifier, context);
    if (resolved.url.includes('/@opentelemetry/'))
      process.stderr.write(`module loaded: ${resolved.url} from ${context.parentURL}\n`);
    return resolved;
  },
});
