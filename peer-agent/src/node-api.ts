import type { FileView, GroupView, JoinRequestView, MemberView, UserView } from "../../core/api-types.js";

/**
 * What a running peer node (the agent plus its user session) can be asked to
 * do. The CLI drives it in-process (`client`) or through the loopback control
 * endpoint of a background agent (`client --agent`); both implement this.
 */
export interface PeerNodeApi {
  status(): Promise<NodeStatus>;
  createUser(userId: string, password: string): Promise<UserView>;
  login(userId: string, password: string): Promise<LoginOutcome>;
  logout(): Promise<void>;
  createGroup(groupId: string): Promise<GroupView>;
  joinGroup(groupId: string): Promise<JoinRequestView>;
  leaveGroup(groupId: string): Promise<void>;
  /** The owner takes another member out of a group (their grants for it stop being served within seconds). */
  removeMember(groupId: string, userId: string): Promise<void>;
  /** Changes the logged-in user's password; their other sessions end, this one stays. */
  changePassword(currentPassword: string, newPassword: string): Promise<void>;
  listRequests(groupId: string): Promise<JoinRequestView[]>;
  acceptRequest(groupId: string, userId: string): Promise<MemberView>;
  rejectRequest(groupId: string, userId: string): Promise<void>;
  listGroups(): Promise<GroupView[]>;
  listFiles(groupId: string): Promise<FileView[]>;
  /** Hashes the file (progress through onProgress when in-process), registers it, serves it. */
  uploadFile(path: string, groupId: string, onProgress?: (bytesDone: number, size: number) => void): Promise<FileView>;
  /** Starts a download in the background and returns at once; `sequential` fills the file from its start (play while downloading). */
  downloadFile(groupId: string, fileName: string, destination: string, order?: DownloadOrder): Promise<DownloadInfo>;
  /** Changes the upload (`up`) or download (`down`) limit while running, e.g. `2M`, `0` (uploads only), `unlimited`. */
  setRate(direction: string, rate: string): Promise<TransferRates>;
  /** Resolves when the download ends (complete, failed, paused or stopped). */
  waitForDownload(id: string): Promise<DownloadInfo>;
  listDownloads(): Promise<DownloadInfo[]>;
  /** Stops a running download, kept paused (across restarts too) until resumeDownload. */
  pauseDownload(groupId: string, fileName: string): Promise<DownloadInfo>;
  /** Starts a paused or failed download again from the pieces it has. */
  resumeDownload(groupId: string, fileName: string): Promise<DownloadInfo>;
  /** Ends an unfinished download for good and deletes its partial file. */
  cancelDownload(groupId: string, fileName: string): Promise<void>;
  /** Takes complete downloads off the list; returns how many. */
  clearDownloads(): Promise<number>;
  stopShare(groupId: string, fileName: string): Promise<void>;
  /** Files this node shares (complete or partial), for completion and display. */
  listShares(): Promise<ShareInfo[]>;
}

export interface NodeStatus {
  /** Logged-in user, if any. */
  userId: string | undefined;
  /** Where the agent serves pieces, ip:port. */
  peerAddress: string;
  /** Tracker that answered last, as ip:port. */
  tracker: string | undefined;
  sharing: number;
  downloading: number;
  /** The agent's limits in bytes per second; absent: unlimited. */
  rates: TransferRates;
}

/** Limits shared by all uploads and by all downloads of an agent; undefined is unlimited, an upload limit of 0 uploads nothing. */
export interface TransferRates {
  up?: number;
  down?: number;
}

export interface LoginOutcome {
  /** The user id the tracker answered (see LoginResult.userId). */
  userId: string;
  /** What the tracker says the user must be told (LoginResult.notices), one line each. */
  notices?: string[];
  /** Shares restored into sharing mode after login. */
  restored: number;
  /** Shares dropped because the file disappeared or changed on disk. */
  dropped: { groupId: string; fileName: string; reason: string }[];
  /** Downloads resumed after login. */
  resumed: number;
}

/** stopped: by logout or by the agent stopping; it resumes at the next login. paused: by pause_download. */
export type DownloadState = "queued" | "downloading" | "complete" | "failed" | "paused" | "stopped";

export interface PeerTransfer {
  userId: string;
  address: string;
  bytes: number;
  pieces: number;
  failures: number;
  banned: boolean;
}

/** In which order a download asks for pieces: the swarm's (rarest first), or the file's from its start. */
export type DownloadOrder = "rarest" | "sequential";

export interface DownloadInfo {
  id: string;
  groupId: string;
  fileName: string;
  /** Final path of the file on this machine. */
  destination: string;
  state: DownloadState;
  piecesDone: number;
  pieceCount: number;
  bytesDone: number;
  size: number;
  bytesPerSecond: number;
  activePeers: number;
  startedAt: string;
  order: DownloadOrder;
  finishedAt?: string;
  error?: { code: string; message: string };
  /** Filled in when the download ends. */
  summary?: {
    durationMs: number;
    /** Verified bytes this run fetched: less than the size when it resumed with pieces verified before. */
    bytes: number;
    averageBytesPerSecond: number;
    perPeer: PeerTransfer[];
    /** Range requests sent, and how many of them were given up as stalled (each costs its connection). */
    requests?: number;
    timeouts?: number;
    /** From the download_file command to the first verified piece (a resumed download: from its restart). */
    firstPieceMs?: number;
    /** The steps to the first verified piece, ms after the command (see StartupTrace). */
    startup?: Record<string, number>;
  };
}

export interface ShareInfo {
  groupId: string;
  fileName: string;
  sha1: string;
  size: number;
  localPath: string;
  pieceCount: number;
  piecesHeld: number;
}
