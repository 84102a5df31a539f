import type { Request } from "express";
import type { IocContainer, IocContainerFactory } from "@tsoa/runtime";
import type { TrackerDb } from "../db/open.js";

type ControllerClass = new (db: TrackerDb) => unknown;

/**
 * tsoa's generated routes build each controller through this factory (iocModule
 * in tsoa.json); controllers get the database of the app that took the request,
 * so several trackers can run in one process (tests).
 */
export const iocContainer: IocContainerFactory = (request: unknown): IocContainer => {
  const db = (request as Request).app.locals.db as TrackerDb | undefined;
  if (!db) throw new Error("tracker app has no database");
  return { get: ((controller: ControllerClass) => new controller(db)) as IocContainer["get"] };
};
