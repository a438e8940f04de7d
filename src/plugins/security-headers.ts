import helmet from '@fastify/helmet';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

/**
 * The Content-Security-Policy of every response. Swagger UI (/docs) and the dashboard
 * (/, /dashboard) load their scripts, styles, images and data from this origin only and
 * have no inline scripts, so no script may come from anywhere else or be inline. Inline
 * styles are allowed: Swagger UI sets some, and a style cannot run code. `data:` images and
 * fonts: Swagger UI's icons. Nobody may frame the pages (clickjacking).
 */
export const CONTENT_SECURITY_POLICY = {
  'default-src': ["'self'"],
  'base-uri': ["'self'"],
  'script-src': ["'self'"],
  'script-src-attr': ["'none'"],
  'style-src': ["'self'", "'unsafe-inline'"],
  'img-src': ["'self'", 'data:'],
  'font-src': ["'self'", 'data:'],
  'connect-src': ["'self'"],
  'object-src': ["'none'"],
  'form-action': ["'self'"],
  'frame-ancestors': ["'none'"],
} as const;

/** X-Content-Type-Options, X-Frame-Options, a CSP and the rest of helmet's headers. */
export default fp(
  async (app: FastifyInstance) => {
    await app.register(helmet, {
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          ...Object.fromEntries(
            Object.entries(CONTENT_SECURITY_POLICY).map(([k, v]) => [k, [...v]]),
          ),
        },
      },
      frameguard: { action: 'deny' },
      // TLS is terminated in front of the service (if at all): whether browsers must only
      // use HTTPS for the whole host is that proxy's decision, not this service's.
      strictTransportSecurity: false,
    });
  },
  { name: 'security-headers' },
);
