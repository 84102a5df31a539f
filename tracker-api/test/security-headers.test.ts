import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import request from "supertest";
import { startTrackerApp } from "./support/tracker-app.js";

let tracker: Awaited<ReturnType<typeof startTrackerApp>>;
before(async () => { tracker = await startTrackerApp(); });
after(async () => { await tracker.close(); });

test("API responses carry helmet's headers and a content security policy that allows nothing", async () => {
  const response = await request(tracker.app).get("/health").set("origin", "http://elsewhere.example").expect(200);
  assert.equal(response.headers["x-content-type-options"], "nosniff");
  assert.equal(response.headers["x-frame-options"], "SAMEORIGIN");
  assert.equal(response.headers["content-security-policy"], "default-src 'none';frame-ancestors 'none'");
  assert.equal(response.headers["access-control-allow-origin"], undefined, "no CORS");
});

test("problem responses carry the same headers", async () => {
  const response = await request(tracker.app).get("/nowhere").expect(404);
  assert.equal(response.headers["x-content-type-options"], "nosniff");
});

test("Swagger UI at /docs is still served, under a policy that admits its own scripts and inline styles", async () => {
  const page = await request(tracker.app).get("/docs/").expect(200);
  assert.match(page.headers["content-type"]!, /text\/html/);
  assert.match(page.text, /swagger-ui/i);
  const policy = page.headers["content-security-policy"]!;
  assert.match(policy, /script-src 'self'(;|$)/);
  assert.match(policy, /style-src 'self' 'unsafe-inline'/);
  assert.doesNotMatch(policy, /upgrade-insecure-requests/);
  // script-src has no 'unsafe-inline': every script must come from this server, and load.
  const scripts = [...page.text.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)];
  assert.ok(scripts.length > 0);
  for (const [, attributes, inline] of scripts) {
    const src = /src=["']([^"']+)["']/.exec(attributes!)?.[1];
    assert.ok(src && inline!.trim() === "", `inline script in /docs: ${inline!.slice(0, 60)}`);
    const script = await request(tracker.app).get(new URL(src, "http://tracker/docs/").pathname).expect(200);
    assert.match(script.headers["content-type"]!, /javascript/);
  }
});
