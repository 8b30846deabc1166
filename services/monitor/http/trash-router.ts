import express, { type Router } from 'express';
import type { TrashListing } from '../discovery/trash-listing.ts';

export interface TrashRouterOptions {
  listing: TrashListing;
  /** The workspaces the monitor sees now: an entry of one of them holds files deleted from it. */
  workspaces(): string[];
}

/**
 * GET /api/trash: what the sync moved to the trash, newest first, each with
 * the command that restores it and whether its workspace is gone
 * (`workspaceExists: false`) or only lost some files.
 */
export function trashRouter(options: TrashRouterOptions): Router {
  const router = express.Router();
  router.get('/', async (_req, res) => {
    const entries = await options.listing.list();
    const present = new Set(options.workspaces());
    res.setHeader('cache-control', 'no-store');
    res.json({
      trash: entries.map((e) => ({ ...e, workspaceExists: present.has(e.workspace) })),
    });
  });
  return router;
}
