import { readFileSync } from "node:fs";
import type express from "express";
import swaggerUi from "swagger-ui-express";
import { parse } from "yaml";
import { join } from "node:path";
import { findPackageRoot } from "../package-root.js";

/** Serves the committed openapi.yaml as /openapi.json and Swagger UI at /docs ("Authorize" takes the bearer token). */
export function mountDocs(app: express.Express): void {
  const specPath = join(findPackageRoot(), "openapi.yaml");
  const spec = parse(readFileSync(specPath, "utf8")) as Record<string, unknown>;
  app.get("/openapi.json", (_req, res) => {
    res.json(spec);
  });
  app.use("/docs", swaggerUi.serve, swaggerUi.setup(spec, { swaggerOptions: { persistAuthorization: true } }));
}
