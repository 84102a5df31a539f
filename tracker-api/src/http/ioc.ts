import type { Request } from "express";
import type { IocContainer, IocContainerFactory } from "@tsoa/runtime";
import type { Tracker } from "../tracker.js";

type ControllerClass = new (tracker: Tracker) => unknown;

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Locals {
      /** The tracker an app serves: set once by createApp, read only through trackerOf. */
      tracker?: Tracker;
    }
  }
}

/** The tracker of the app that took `request`. */
export function trackerOf(request: Request): Tracker {
  const { tracker } = request.app.locals;
  if (!tracker) throw new Error("this app serves no tracker (build it with createApp)");
  return tracker;
}

/**
 * tsoa's generated routes build each controller through this factory (iocModule
 * in tsoa.json); controllers are given the tracker of the app that took the
 * request, so several trackers can run in one process (tests).
 */
export const iocContainer: IocContainerFactory = (request: unknown): IocContainer => {
  // tsoa types the request it passes as unknown; with the express template it is express's.
  const tracker = trackerOf(request as Request);
  return { get: ((controller: ControllerClass) => new controller(tracker)) as IocContainer["get"] };
};
