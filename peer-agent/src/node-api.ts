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
  listRequests(groupId: string): Promise<JoinRequestView[]>;
  acceptRequest(groupId: string, userId: string): Promise<MemberView>;
  rejectRequest(groupId: string, userId: string): Promise<void>;
  listGroups(): Promise<GroupView[]>;
  listFiles(groupId: string): Promise<FileView[]>;
  /** Hashes the file (progress through onProgress when in-process), registers it, serves it. */
  uploadFile(path: string, groupId: string, onProgress?: (bytesDone: number, size: number) => void): Promise<FileView>;
  /** Starts a download in the background and returns at once. */
  downloadFile(groupId: string, fileName: string, destination: string): Promise<DownloadInfo>;
  /** Resolves when the download ends (complete, failed or stopped). */
  waitForDownload(id: string): Promise<DownloadInfo>;
  listDownloads(): Promise<DownloadInfo[]>;
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

export type DownloadState = "downloading" | "complete" | "failed" | "stopped";

export interface PeerTransfer {
  userId: string;
  address: string;
  bytes: number;
  pieces: number;
  failures: number;
  banned: boolean;
}

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
  finishedAt?: string;
  error?: { code: string; message: string };
  /** Filled in when the download ends. */
  summary?: {
    durationMs: number;
    averageBytesPerSecond: number;
    perPeer: PeerTransfer[];
    /** From the download_file command to the first verified piece (a resumed download: from its restart). */
    firstPieceMs?: number;
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
