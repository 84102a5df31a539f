import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { rm, stat } from "node:fs/promises";
import type { Stats } from "node:fs";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { basename, resolve } from "node:path";
import type { FileMetadata, FileView, GroupView, JoinRequestView, ManifestEntry, MemberView, PeerView, UserView } from "../../core/api-types.js";
import { manifestProblem } from "../../core/manifest.js";
import { Bitfield } from "../../core/bitfield.js";
import { Download, type DownloadSummary } from "./download/engine.js";
import { PieceWorkers } from "./download/piece-store.js";
import { TlsSessions } from "./download/reused-buffer-connector.js";
import { StartupTrace } from "./download/startup-trace.js";
import { AppError, Codes, ConflictError, UnauthorizedError, UnavailableError, ValidationError } from "../../core/errors.js";
import { hashFile, PIECE_SIZE, pieceBounds, type FileDigest } from "../../core/pieces.js";
import { TrackerClient } from "../../core/tracker-client.js";
import type { TrackerAddress } from "../../core/tracker-info.js";
import { fileNameProblem } from "../../core/validation.js";
import { resolveDestination } from "./destination.js";
import { hashFolder } from "./folder/hash.js";
import { checkPathsFit, folderWorkPaths, prepareWorkTree } from "./folder/work-paths.js";
import { folderFingerprint } from "./folder/scan.js";
import { createGrantCheck, type PrefetchingGrantCheck } from "./grant-check.js";
import { GrantStatus } from "./grant-status.js";
import { RateLimiter } from "./rate-limiter.js";
import { DownloadQueue } from "./download-queue.js";
import { parseByteRate } from "../../core/byte-rate.js";
import { createPeerServer } from "./http/server.js";
import { loadIdentity, type TlsIdentity } from "./tls/identity.js";
import { SwarmEvents } from "./http/swarm-events.js";
import type { ServedFile } from "./http/served-file.js";
import type { DownloadInfo, DownloadOrder, TransferRates, LoginOutcome, NodeStatus, PeerNodeApi, ShareInfo } from "./node-api.js";
import { oneAtATime } from "../../core/one-at-a-time.js";
import { ServedRegistry } from "./served-registry.js";
import { AgentStateStore, type ShareRecord } from "./state/agent-state.js";
import { AGENT } from "./config.js";

export interface PeerNodeOptions {
  /** Address the agent serves pieces on, and tells the trackers. Port 0 picks a free one. */
  host: string;
  port: number;
  trackers: TrackerAddress[];
  stateDir: string;
  /** One-line notices for the user: tracker failover, shares dropped, session lost. */
  onNotice?: (line: string) => void;
  /** Told when a download ends (complete, failed); the CLI prints its summary. */
  onDownloadEnded?: (info: DownloadInfo) => void;
  trackerTimeoutMs?: number;
  /** Starting limits (bytes per second) for all uploads and all downloads; set_rate changes them while running. */
  rates?: TransferRates;
  /** Downloads that run at once; the others wait as [Q] in the order they were asked for. */
  maxActiveDownloads?: number;
  /**
   * Serve pieces over TLS with the agent's own certificate (made on first
   * start, kept in the state dir), registered with the tracker so downloaders
   * pin it. Default true; false serves plain HTTP (the benchmark's baseline).
   */
  tls?: boolean;
  /** PEM certificates trusted for https trackers besides the system's CAs. */
  trackerCa?: string;
  /** Passwords may go to plain-HTTP trackers off this machine. */
  insecure?: boolean;
}

/** A running download, or one that ended during this run of the agent. */
interface DownloadEntry {
  info: DownloadInfo;
  userId: string;
  download?: Download;
  controller: AbortController;
  /** Set by pause_download before aborting: the download ends paused, not stopped. */
  pausing?: boolean;
  done: Promise<DownloadInfo>;
}

/**
 * A user's peer node: the piece server, the tracker session, the shares and
 * the downloads, with state that survives restarts. Both the in-process CLI and
 * the background agent's control endpoint drive it through PeerNodeApi.
 */
export class PeerNode implements PeerNodeApi {
  peerAddress: string;
  readonly tracker: TrackerClient;
  readonly #options: PeerNodeOptions;
  readonly #store: AgentStateStore;
  readonly #events = new SwarmEvents();
  readonly #workers = new PieceWorkers();
  /** TLS sessions with the peers this agent downloaded from: its next download from them resumes them. */
  readonly #tlsSessions = new TlsSessions();
  readonly #served = new ServedRegistry(this.#events);
  readonly #server: Server;
  readonly #downloads = new Map<string, DownloadEntry>();
  #userId: string | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #heartbeatMs: number = AGENT.FIRST_HEARTBEAT_MS;
  #announceTimer: NodeJS.Timeout | undefined;
  #lastAnnounce = 0;
  /**
   * Tells the tracker this peer is alive and what it holds; returns the
   * refused reports. One report at a time, each with the holdings of the
   * moment it is sent: two in flight (a heartbeat and a progress report) could
   * be applied in the other order and leave the older picture on the tracker.
   */
  readonly #grantCheck: PrefetchingGrantCheck;
  /** Whether the grants served still stand (leave, removal, logout, password change revoke them within seconds). */
  readonly #grantStatus: GrantStatus;
  readonly #uploadLimit: RateLimiter;
  readonly #queue: DownloadQueue;
  readonly #downloadLimit: RateLimiter;
  readonly #announce = oneAtATime(() => this.#sendAnnounce());

  /** The agent's certificate fingerprint, registered at login and every announce; undefined when serving plain HTTP. */
  readonly certSha256: string | undefined;

  private constructor(options: PeerNodeOptions, tracker: TrackerClient, store: AgentStateStore, identity: TlsIdentity | undefined) {
    this.#options = options;
    this.tracker = tracker;
    this.#store = store;
    this.#grantStatus = new GrantStatus((grants) => tracker.grantStatus(grants));
    this.#grantCheck = createGrantCheck(() => tracker.allJwks(), { status: this.#grantStatus });
    this.#queue = new DownloadQueue(options.maxActiveDownloads ?? AGENT.MAX_ACTIVE_DOWNLOADS);
    this.#uploadLimit = new RateLimiter(options.rates?.up);
    this.#downloadLimit = new RateLimiter(checkedDownloadRate(options.rates?.down));
    this.#server = createPeerServer({
      files: this.#served,
      events: this.#events,
      checkGrant: this.#grantCheck,
      grantStands: this.#grantCheck.stands,
      uploadLimit: this.#uploadLimit,
      onChangedOnDisk: (file) => void this.#stopServingChanged(file),
      ...(identity ? { tls: identity } : {}),
    });
    this.certSha256 = identity?.fingerprint;
    this.peerAddress = "";
  }

  static async start(options: PeerNodeOptions): Promise<PeerNode> {
    const store = new AgentStateStore(options.stateDir, options.onNotice ? { onWarning: options.onNotice } : {});
    await store.load();
    const tracker = new TrackerClient(options.trackers, {
      timeoutMs: options.trackerTimeoutMs,
      ...(options.trackerCa !== undefined ? { ca: options.trackerCa } : {}),
      insecure: options.insecure === true,
      onFailover: ({ from, to, reason }) =>
        options.onNotice?.(
          `tracker ${from.number} (${from.host}:${from.port}) is not answering (${shortReason(reason)}); using tracker ${to.number} (${to.host}:${to.port})`,
        ),
    });
    const tls = options.tls === false ? undefined : await loadIdentity(options.stateDir);
    const node = new PeerNode(options, tracker, store, tls?.identity);
    try {
      await node.#listen();
    } catch (error) {
      await tracker.close();
      throw error;
    }
    await store.createDir();
    await tls?.save();
    void node.#workers.warm();
    return node;
  }

  async #listen(): Promise<void> {
    this.#server.listen(this.#options.port, this.#options.host);
    await once(this.#server, "listening");
    const { port } = this.#server.address() as AddressInfo;
    this.peerAddress = `${this.#options.host}:${port}`;
  }

  get userId(): string | undefined {
    return this.#userId;
  }

  async status(): Promise<NodeStatus> {
    const current = this.tracker.currentTracker;
    return {
      userId: this.#userId,
      peerAddress: this.peerAddress,
      tracker: current ? `${current.host}:${current.port}` : undefined,
      sharing: this.#served.size,
      downloading: [...this.#downloads.values()].filter((d) => d.info.state === "downloading").length,
      rates: this.#rates(),
    };
  }

  async setRate(direction: string, rate: string): Promise<TransferRates> {
    const bytesPerSecond = parseByteRate(rate);
    if (direction === "up") this.#uploadLimit.set(bytesPerSecond);
    else if (direction === "down") this.#downloadLimit.set(checkedDownloadRate(bytesPerSecond));
    else throw new ValidationError(`"${direction}" is not a direction; use up or down`, Codes.BAD_ARGUMENT);
    return this.#rates();
  }

  #rates(): TransferRates {
    const { bytesPerSecond: up } = this.#uploadLimit;
    const { bytesPerSecond: down } = this.#downloadLimit;
    return { ...(up !== undefined ? { up } : {}), ...(down !== undefined ? { down } : {}) };
  }

  createUser(userId: string, password: string): Promise<UserView> {
    return this.tracker.createUser({ userId, password });
  }

  async login(requested: string, password: string): Promise<LoginOutcome> {
    if (this.#userId) {
      throw new ConflictError(`already logged in as ${this.#userId}; logout first`, Codes.ALREADY_LOGGED_IN);
    }
    const session = await this.tracker.login({ userId: requested, password, peerAddress: this.peerAddress, ...this.#certField() });
    // The tracker's word for who this is (a name conflict may have renamed the account).
    const userId = session.userId;
    this.#userId = userId;
    void this.#grantCheck.prefetch(); // members may ask for pieces the moment the announce below lands
    const outcome: LoginOutcome = { userId, restored: 0, dropped: [], resumed: 0, notices: session.notices ?? [] };
    const resume: ShareRecord[] = [];
    for (const record of this.#store.sharesOf(userId)) {
      if (record.download && !(await stat(record.path).catch(() => undefined))) {
        record.verified = new Bitfield(record.file.pieceHashes.length).toBase64();
      }
      const reason = await changedOnDisk(record);
      if (reason) {
        this.#drop(record, reason, outcome);
        continue;
      }
      this.#served.add(record);
      if (record.download?.state === "downloading") resume.push(record);
      else if (!record.download) outcome.restored++;
    }
    const rejected = await this.#announce();
    for (const { groupId, fileName, code } of rejected) {
      const record = this.#store.find(userId, groupId, fileName);
      if (!record) continue;
      this.#served.remove(groupId, record.file.sha1);
      const reason = code === Codes.NOT_MEMBER ? "you are no longer a member of the group" : `the tracker refused it (${code})`;
      this.#drop(record, reason, outcome);
      if (!record.download) outcome.restored--;
    }
    this.#startHeartbeat();
    // In the order they were asked for: the queue starts them in that order again.
    resume.sort((a, b) => a.download!.startedAt.localeCompare(b.download!.startedAt));
    for (const record of resume) {
      if (!this.#store.find(userId, record.file.groupId, record.file.fileName)) continue;
      this.#startDownload(record);
      outcome.resumed++;
    }
    return outcome;
  }

  async logout(): Promise<void> {
    const userId = this.#requireLogin();
    await this.#goOffline();
    try {
      await this.tracker.logout();
    } finally {
      this.tracker.token = undefined;
      if (this.#userId === userId) this.#userId = undefined;
    }
  }

  async createGroup(groupId: string): Promise<GroupView> {
    this.#requireLogin();
    return this.tracker.createGroup(groupId);
  }

  async joinGroup(groupId: string): Promise<JoinRequestView> {
    this.#requireLogin();
    return this.tracker.requestJoin(groupId);
  }

  async leaveGroup(groupId: string): Promise<void> {
    const userId = this.#requireLogin();
    await this.tracker.leaveGroup(groupId, userId);
    for (const record of this.#store.sharesOf(userId).filter((r) => r.file.groupId === groupId)) {
      await this.#forget(record);
    }
  }

  async removeMember(groupId: string, userId: string): Promise<void> {
    this.#requireLogin();
    await this.tracker.leaveGroup(groupId, userId);
  }

  async changePassword(currentPassword: string, newPassword: string): Promise<void> {
    this.#requireLogin();
    await this.tracker.changePassword({ currentPassword, newPassword });
  }

  async listRequests(groupId: string): Promise<JoinRequestView[]> {
    this.#requireLogin();
    return this.tracker.listJoinRequests(groupId);
  }

  async acceptRequest(groupId: string, userId: string): Promise<MemberView> {
    this.#requireLogin();
    return this.tracker.acceptJoin(groupId, userId);
  }

  async rejectRequest(groupId: string, userId: string): Promise<void> {
    this.#requireLogin();
    return this.tracker.rejectJoin(groupId, userId);
  }

  async listGroups(): Promise<GroupView[]> {
    this.#requireLogin();
    return this.tracker.listGroups();
  }

  async listFiles(groupId: string): Promise<FileView[]> {
    this.#requireLogin();
    return this.tracker.listFiles(groupId);
  }

  async uploadFile(
    path: string,
    groupId: string,
    onProgress?: (bytesDone: number, size: number) => void,
  ): Promise<FileView> {
    const userId = this.#requireLogin();
    const localPath = resolve(path);
    const before = await stat(localPath).catch(() => undefined);
    const folder = before?.isDirectory() === true;
    if (!before?.isFile() && !folder) throw new ValidationError(`${localPath} is not a readable file or folder`, Codes.NOT_A_FILE);
    const fileName = basename(localPath);
    const problem = fileNameProblem(fileName);
    if (problem) throw new ValidationError(`cannot share ${localPath}: ${problem}; rename the file first`, Codes.BAD_FILE_NAME);
    const existing = this.#store.find(userId, groupId, fileName);
    if (existing?.download) {
      throw new ConflictError(`"${fileName}" is being downloaded into "${groupId}"; wait for it or stop_share it first`, Codes.DOWNLOAD_RUNNING);
    }

    const { digest, manifest, checked } = folder ? await hashFolder(localPath, onProgress) : await hashOneFile(localPath, before!, onProgress);
    const view = await this.tracker.shareFile(groupId, { fileName, ...digest, ...(manifest ? { manifest } : {}) });
    if (this.#userId !== userId) return view;
    const file: FileMetadata = { groupId, fileName, ...digest };
    if (existing) this.#served.remove(groupId, existing.file.sha1);
    const record: ShareRecord = {
      userId,
      file,
      path: localPath,
      ...(manifest ? { manifest } : {}),
      verified: Bitfield.full(digest.pieceHashes.length).toBase64(),
      checkedSize: checked.size,
      checkedMtimeMs: checked.mtimeMs,
    };
    this.#store.put(record);
    this.#served.add(record);
    await this.#store.flush();
    return view;
  }

  async downloadFile(groupId: string, fileName: string, destination: string, order: DownloadOrder = "rarest"): Promise<DownloadInfo> {
    if (order !== "rarest" && order !== "sequential") throw new ValidationError(`unknown download order "${order}"; use rarest or sequential`, Codes.BAD_ARGUMENT);
    const requestedAt = Date.now();
    const trace = new StartupTrace();
    const userId = this.#requireLogin();
    const existing = this.#store.find(userId, groupId, fileName);
    if (existing && !existing.download) {
      throw new ConflictError(`you already share "${fileName}" in "${groupId}" from ${existing.path}`, Codes.ALREADY_SHARED);
    }
    if (existing?.download?.state === "downloading") {
      throw new ConflictError(`"${fileName}" from "${groupId}" is already downloading to ${existing.download.destination}`, Codes.DOWNLOAD_RUNNING);
    }
    // A failed download of the same file resumes with the pieces it verified, if it goes to the same place.
    const finalPath = existing?.download ? existing.download.destination : await resolveDestination(destination, fileName);
    if (existing?.download && (await stat(finalPath).catch(() => undefined))) {
      throw new ConflictError(`${finalPath} already exists; remove it or choose another destination`, Codes.DESTINATION_EXISTS);
    }
    const list = await this.tracker.getPeers(groupId, fileName);
    trace.mark("peerList");
    const file = checkMetadata(list.file, groupId, fileName);
    if (list.peers.length === 0) {
      throw new UnavailableError(`no peer holding "${fileName}" is online now; try again later`, Codes.NO_PEER_ONLINE);
    }
    // A folder's paths are checked before anything is written: its manifest comes from another member's agent.
    const manifest = existing ? existing.manifest : file.fileCount !== undefined ? await this.#folderManifest(file) : undefined;
    if (manifest) checkPathsFit(finalPath, manifest);
    const work = manifest ? folderWorkPaths(finalPath) : undefined;
    const partPath = work?.tree ?? `${finalPath}.part`;
    const claimed = work?.dir ?? partPath;
    if (!existing && (await stat(claimed).catch(() => undefined))) {
      throw new ConflictError(`${claimed} already exists and is not a download of this agent; remove it first`, Codes.DESTINATION_EXISTS);
    }
    const record: ShareRecord = existing ?? {
      userId,
      file,
      path: partPath,
      ...(manifest ? { manifest } : {}),
      verified: new Bitfield(file.pieceHashes.length).toBase64(),
      checkedSize: 0,
      checkedMtimeMs: 0,
      download: { id: randomUUID().slice(0, 8), destination: finalPath, startedAt: new Date().toISOString(), state: "downloading", ...(order === "sequential" ? { sequential: true } : {}) },
    };
    record.download!.state = "downloading";
    if (order === "sequential") record.download!.sequential = true;
    else delete record.download!.sequential;
    delete record.download!.error;
    this.#store.put(record);
    // Saved (written, fsynced, renamed) while the download starts, not before it: that took 6–25 ms in front of every
    // download, and up to 0.9 s when the command waited for it behind the download's own writes (docs/performance.md).
    void this.#store.flush();
    this.#served.add(record);
    return { ...this.#startDownload(record, list, requestedAt, trace).info };
  }

  /** A shared folder's manifest from the tracker, checked like any other input: this folder's, and safe to lay out. */
  async #folderManifest(file: FileMetadata): Promise<ManifestEntry[]> {
    const folder = await this.tracker.getManifest(file.groupId, file.fileName);
    const problem = folder.sha1 !== file.sha1 || folder.files.length !== file.fileCount
      ? "it does not describe the folder the peer list names"
      : manifestProblem(folder.files, file.size, Number.POSITIVE_INFINITY);
    if (problem) throw new ValidationError(`refusing the manifest of "${file.fileName}" from the tracker: ${problem}`, Codes.BAD_MANIFEST);
    return folder.files.map(({ path, size }) => ({ path, size }));
  }

  async waitForDownload(id: string): Promise<DownloadInfo> {
    const entry = this.#downloads.get(id);
    if (!entry) throw new AppError(404, Codes.DOWNLOAD_NOT_FOUND, `no download with id ${id}`);
    return entry.done;
  }

  /**
   * This run's downloads (of the logged-in user, if any), then the paused and
   * failed ones kept from earlier runs of the agent.
   */
  async listDownloads(): Promise<DownloadInfo[]> {
    const userId = this.#userId;
    const entries = [...this.#downloads.values()].filter((entry) => userId === undefined || entry.userId === userId);
    const listed = new Set(entries.map((entry) => entry.info.id));
    const kept = userId === undefined ? [] : this.#store.sharesOf(userId).filter((r) => r.download && !listed.has(r.download.id));
    return [...entries.map((entry) => this.#refreshInfo(entry)), ...kept.map((record) => this.#infoFromRecord(record))];
  }

  async pauseDownload(groupId: string, fileName: string): Promise<DownloadInfo> {
    const record = this.#downloadRecord(this.#requireLogin(), groupId, fileName);
    const entry = this.#runningEntry(record);
    if (!entry) {
      throw new ConflictError(`the download of "${fileName}" in "${groupId}" is not running (${record.download!.state})`, Codes.DOWNLOAD_NOT_RUNNING);
    }
    entry.pausing = true;
    entry.controller.abort();
    return entry.done;
  }

  async resumeDownload(groupId: string, fileName: string): Promise<DownloadInfo> {
    const requestedAt = Date.now();
    const record = this.#downloadRecord(this.#requireLogin(), groupId, fileName);
    if (this.#runningEntry(record)) {
      throw new ConflictError(`"${fileName}" from "${groupId}" is already downloading to ${record.download!.destination}`, Codes.DOWNLOAD_RUNNING);
    }
    if (await stat(record.download!.destination).catch(() => undefined)) {
      throw new ConflictError(`${record.download!.destination} already exists; remove it or cancel_download ${groupId} ${fileName}`, Codes.DESTINATION_EXISTS);
    }
    const list = await this.tracker.getPeers(groupId, fileName);
    checkMetadata(list.file, groupId, fileName, record.file.sha1);
    if (list.peers.length === 0) {
      throw new UnavailableError(`no peer holding "${fileName}" is online now; try again later`, Codes.NO_PEER_ONLINE);
    }
    record.download!.state = "downloading";
    delete record.download!.error;
    this.#store.changed();
    await this.#store.flush();
    return { ...this.#startDownload(record, list, requestedAt).info };
  }

  /** Stops a download for good: its partial file is deleted and the group no longer sees its pieces here. */
  async cancelDownload(groupId: string, fileName: string): Promise<void> {
    const record = this.#downloadRecord(this.#requireLogin(), groupId, fileName);
    const id = record.download!.id;
    await this.#unshare(record, groupId, fileName);
    this.#downloads.delete(id);
  }

  /** Takes the complete downloads off the list; returns how many. */
  async clearDownloads(): Promise<number> {
    const userId = this.#requireLogin();
    let cleared = 0;
    for (const [id, entry] of this.#downloads) {
      if (entry.userId === userId && entry.info.state === "complete") {
        this.#downloads.delete(id);
        cleared++;
      }
    }
    return cleared;
  }

  async stopShare(groupId: string, fileName: string): Promise<void> {
    const userId = this.#requireLogin();
    await this.#unshare(this.#store.find(userId, groupId, fileName), groupId, fileName);
  }

  /** Tells the trackers this node no longer holds the file, then forgets it here. */
  async #unshare(record: ShareRecord | undefined, groupId: string, fileName: string): Promise<void> {
    try {
      await this.tracker.stopSharing(groupId, fileName);
    } catch (error) {
      // A download that has not announced a piece yet is only known here.
      if (!(record && error instanceof AppError && error.code === Codes.NOT_SHARING)) throw error;
    }
    if (record) await this.#forget(record);
  }

  async listShares(): Promise<ShareInfo[]> {
    const userId = this.#userId;
    if (!userId) return [];
    return this.#store.sharesOf(userId).map((record) => ({
      groupId: record.file.groupId,
      fileName: record.file.fileName,
      sha1: record.file.sha1,
      size: record.file.size,
      localPath: record.download ? record.download.destination : record.path,
      pieceCount: record.file.pieceHashes.length,
      piecesHeld: this.#served.find(record.file.groupId, record.file.sha1)?.verified.count ?? 0,
    }));
  }

  /** Stops serving, stops downloads (they resume at the next login), logs out if it can, closes. */
  async close(): Promise<void> {
    if (this.#userId) {
      await this.#goOffline();
      await this.tracker.logout().catch(() => undefined);
      this.#userId = undefined;
    }
    await this.#store.flush();
    this.#events.close();
    await this.#workers.close();
    this.#server.closeAllConnections();
    await new Promise<void>((done) => this.#server.close(() => done()));
    await this.tracker.close();
  }

  // --- internals ---

  /** The unfinished download of (user, group, file), or an error saying there is none. */
  #downloadRecord(userId: string, groupId: string, fileName: string): ShareRecord {
    const record = this.#store.find(userId, groupId, fileName);
    if (!record?.download) {
      throw new AppError(
        404,
        Codes.DOWNLOAD_NOT_FOUND,
        record
          ? `"${fileName}" in "${groupId}" is complete, not a download; stop_share stops sharing it`
          : `no unfinished download of "${fileName}" in "${groupId}"; show_downloads lists them`,
      );
    }
    return record;
  }

  #runningEntry(record: ShareRecord): DownloadEntry | undefined {
    const entry = record.download && this.#downloads.get(record.download.id);
    return entry && isActive(entry.info.state) ? entry : undefined;
  }

  /** A download kept from an earlier run (paused or failed), as show_downloads lists it. */
  #infoFromRecord(record: ShareRecord): DownloadInfo {
    const { file } = record;
    const state = record.download!;
    const verified = this.#served.find(file.groupId, file.sha1)?.verified ?? Bitfield.fromBase64(file.pieceHashes.length, record.verified);
    return {
      id: state.id,
      groupId: file.groupId,
      fileName: file.fileName,
      destination: state.destination,
      state: state.state === "downloading" ? "stopped" : state.state,
      order: state.sequential ? "sequential" : "rarest",
      piecesDone: verified.count,
      pieceCount: verified.size,
      bytesDone: verifiedBytes(verified, file),
      size: file.size,
      bytesPerSecond: 0,
      activePeers: 0,
      startedAt: state.startedAt,
      ...(state.error ? { error: state.error } : {}),
    };
  }

  #requireLogin(): string {
    if (!this.#userId) throw new UnauthorizedError("not logged in; use login <user_id> <password> first", Codes.NOT_LOGGED_IN);
    return this.#userId;
  }

  /**
   * A shared file was found changed on disk while it was served (http/server.ts): its bytes no longer match its
   * pieces' SHA1s, so it is no longer shared, here and at the trackers, as a login finds such a file (#drop).
   */
  async #stopServingChanged(file: ServedFile): Promise<void> {
    const userId = this.#userId;
    if (!userId || this.#served.find(file.groupId, file.sha1) !== file) return; // already dropped
    const record = this.#store.sharesOf(userId).find((share) => share.file.groupId === file.groupId && share.file.sha1 === file.sha1);
    if (!record) return;
    const { groupId, fileName } = record.file;
    this.#served.remove(groupId, file.sha1);
    this.#store.remove(userId, groupId, fileName);
    this.#notice(`stopped sharing [${groupId}] ${fileName}: the ${record.manifest ? "folder" : "file"} ${record.path} changed on disk since it was shared; upload_file shares it again`);
    await this.tracker.stopSharing(groupId, fileName).catch(() => undefined);
    await this.#store.flush();
  }

  #notice(line: string): void {
    this.#options.onNotice?.(line);
  }

  /** Stops serving and downloading for the current user; state stays for the next login. */
  async #goOffline(): Promise<void> {
    clearInterval(this.#heartbeat);
    clearTimeout(this.#announceTimer);
    this.#heartbeat = undefined;
    this.#announceTimer = undefined;
    const running = [...this.#downloads.values()].filter((d) => isActive(d.info.state));
    for (const entry of running) entry.controller.abort();
    await Promise.all(running.map((entry) => entry.done));
    this.#served.clear();
    this.#grantStatus.close();
    await this.#store.flush();
  }

  /** `requestedAt`: when the user asked for it (Date.now()); a resumed download counts from its restart. */
  #startDownload(record: ShareRecord, first?: { peers: PeerView[]; grant: string }, requestedAt = Date.now(), trace = new StartupTrace()): DownloadEntry {
    const { file } = record;
    const state = record.download!;
    const served = this.#served.find(file.groupId, file.sha1) ?? this.#served.add(record);
    const controller = new AbortController();
    const info: DownloadInfo = {
      id: state.id,
      groupId: file.groupId,
      fileName: file.fileName,
      destination: state.destination,
      state: this.#queue.full ? "queued" : "downloading",
      piecesDone: served.verified.count,
      pieceCount: served.verified.size,
      bytesDone: verifiedBytes(served.verified, file),
      size: file.size,
      bytesPerSecond: 0,
      activePeers: 0,
      startedAt: state.startedAt,
      order: state.sequential ? "sequential" : "rarest",
    };
    const entry: DownloadEntry = { info, userId: record.userId, controller, done: Promise.resolve(info) };
    this.#downloads.set(info.id, entry);
    entry.done = this.#runDownload(entry, record, served, first, requestedAt, trace);
    return entry;
  }

  async #runDownload(
    entry: DownloadEntry,
    record: ShareRecord,
    served: ServedFile,
    first: { peers: PeerView[]; grant: string } | undefined,
    requestedAt: number,
    trace: StartupTrace,
  ): Promise<DownloadInfo> {
    const { file } = record;
    const state = record.download!;
    const refresh = async () => {
      const list = await this.tracker.getPeers(file.groupId, file.fileName);
      checkMetadata(list.file, file.groupId, file.fileName, file.sha1);
      return { peers: list.peers, grant: list.grant };
    };
    let summary: DownloadSummary | undefined;
    let giveTurnBack: (() => void) | undefined;
    try {
      const waited = entry.info.state === "queued";
      giveTurnBack = await this.#queue.take(entry.controller.signal);
      entry.info.state = "downloading";
      if (waited) first = undefined; // the peers listed when it was asked for may be gone by its turn
      const work = record.manifest ? folderWorkPaths(state.destination) : undefined;
      if (work && record.path !== work.tree) {
        // Recorded by an agent that downloaded a folder as one stream file, then laid it out: start over in a tree.
        await rm(work.dir, { recursive: true, force: true });
        record.path = served.path = work.tree;
      }
      if (!(await stat(record.path).catch(() => undefined))) {
        served.verified = new Bitfield(file.pieceHashes.length);
        record.verified = served.verified.toBase64();
      }
      if (work) await prepareWorkTree(state.destination);
      summary = await this.#fetch(entry, record, served, first, trace, refresh);
      // The engine renamed the file or the folder's tree to the destination once it checked.
      served.path = state.destination;
      // A folder's fingerprint comes from the piece worker, which saw each file written for good; the rename moved the files, not their times.
      const done = record.manifest
        ? (entry.download?.folderFingerprint ?? (await folderFingerprint(state.destination, record.manifest)))
        : await stat(state.destination);
      if (!done) throw new AppError(500, Codes.DOWNLOAD_FAILED, `${state.destination} lost a file as it was put in place`);
      if (work) await rm(work.dir, { recursive: true, force: true });
      record.path = state.destination;
      record.verified = served.verified.toBase64();
      record.checkedSize = done.size;
      record.checkedMtimeMs = done.mtimeMs;
      served.asHashed = { size: done.size, mtimeMs: done.mtimeMs };
      delete record.download;
      this.#store.changed();
      entry.info.state = "complete";
      void this.#announce().catch(() => undefined);
    } catch (error) {
      if (entry.controller.signal.aborted && entry.pausing) {
        entry.info.state = "paused";
        state.state = "paused";
        this.#store.changed();
      } else if (entry.controller.signal.aborted) {
        entry.info.state = "stopped";
      } else {
        const failure = error instanceof AppError ? error : new AppError(500, Codes.DOWNLOAD_FAILED, (error as Error).message);
        entry.info.state = "failed";
        entry.info.error = { code: failure.code, message: failure.message };
        state.state = "failed";
        state.error = entry.info.error;
        this.#store.changed();
      }
    } finally {
      giveTurnBack?.();
    }
    await this.#store.flush();
    void this.#workers.warm(); // for the next download
    this.#refreshInfo(entry);
    entry.info.finishedAt = new Date().toISOString();
    if (summary) {
      entry.info.summary = {
        durationMs: summary.durationMs,
        bytes: summary.bytes,
        averageBytesPerSecond: summary.averageBytesPerSecond,
        perPeer: summary.perPeer,
        requests: summary.requests,
        timeouts: summary.timeouts,
        firstPieceMs: summary.firstPieceAt !== undefined ? summary.firstPieceAt - requestedAt : undefined,
        startup: summary.startup,
      };
    }
    if (entry.info.state !== "stopped") this.#options.onDownloadEnded?.(structuredClone(entry.info));
    return entry.info;
  }

  /** Runs the engine: the file's pieces (a folder's stream, into its files) from its peers into record.path, renamed when whole and checked. */
  async #fetch(
    entry: DownloadEntry,
    record: ShareRecord,
    served: ServedFile,
    first: { peers: PeerView[]; grant: string } | undefined,
    trace: StartupTrace,
    refresh: () => Promise<{ peers: PeerView[]; grant: string }>,
  ): Promise<DownloadSummary> {
    const { file } = record;
    const state = record.download!;
    const start = first ?? (await refresh());
    entry.download = new Download({
      groupId: file.groupId,
      file,
      peers: start.peers,
      grant: start.grant,
      partPath: record.path,
      finalPath: state.destination,
      ...(record.manifest ? { folder: record.manifest } : {}),
      have: served.verified,
      ownAddress: this.peerAddress,
      ...(this.certSha256 ? { ownCertSha256: this.certSha256 } : {}),
      sequential: state.sequential === true,
      downloadLimit: this.#downloadLimit,
      workers: this.#workers,
      tlsSessions: this.#tlsSessions,
      refreshPeers: refresh,
      signal: entry.controller.signal,
      trace,
      onPieceVerified: (index) => {
        this.#served.pieceVerified(served, index);
        record.verified = served.verified.toBase64();
        this.#store.changed();
        this.#announceProgress();
      },
    });
    return entry.download.run();
  }

  #refreshInfo(entry: DownloadEntry): DownloadInfo {
    const progress = entry.download?.progress();
    if (progress) {
      Object.assign(entry.info, {
        piecesDone: progress.piecesDone,
        pieceCount: progress.pieceCount,
        bytesDone: progress.bytesDone,
        bytesPerSecond: entry.info.state === "downloading" ? progress.bytesPerSecond : 0,
        activePeers: entry.info.state === "downloading" ? progress.activePeers : 0,
      });
    }
    return { ...entry.info };
  }

  /** Removes a share here: stops its download, deletes a partial file, stops serving it. */
  async #forget(record: ShareRecord): Promise<void> {
    const running = [...this.#downloads.values()].find(
      (d) => d.info.id === record.download?.id && isActive(d.info.state),
    );
    if (running) {
      running.controller.abort();
      await running.done;
    }
    this.#served.remove(record.file.groupId, record.file.sha1);
    this.#store.remove(record.userId, record.file.groupId, record.file.fileName);
    if (record.download && record.manifest) await rm(folderWorkPaths(record.download.destination).dir, { recursive: true, force: true });
    else if (record.download) await rm(record.path, { force: true });
    await this.#store.flush();
  }

  #drop(record: ShareRecord, reason: string, outcome: LoginOutcome): void {
    this.#store.remove(record.userId, record.file.groupId, record.file.fileName);
    // Reported through the login outcome, which every caller prints.
    outcome.dropped.push({ groupId: record.file.groupId, fileName: record.file.fileName, reason });
    if (reason.startsWith("the file") || reason.startsWith("the folder")) {
      void this.tracker.stopSharing(record.file.groupId, record.file.fileName).catch(() => undefined);
    }
  }

  #certField(): { peerCertSha256?: string } {
    return this.certSha256 ? { peerCertSha256: this.certSha256 } : {};
  }

  /** One announce: marks the time, sends the holdings of this moment. */
  async #sendAnnounce(): Promise<{ groupId: string; fileName: string; code: string }[]> {
    if (!this.#userId) return [];
    this.#lastAnnounce = Date.now();
    const result = await this.tracker.announce({ peerAddress: this.peerAddress, ...this.#certField(), holdings: this.#served.holdings() });
    this.#heartbeatMs = Math.max(1, result.intervalSeconds) * 1000;
    return result.rejected;
  }

  #announceProgress(): void {
    if (this.#announceTimer) return;
    const wait = Math.max(0, this.#lastAnnounce + AGENT.PROGRESS_ANNOUNCE_MS - Date.now());
    this.#announceTimer = setTimeout(() => {
      this.#announceTimer = undefined;
      void this.#announce().catch(() => undefined);
    }, wait);
  }

  #startHeartbeat(): void {
    clearInterval(this.#heartbeat);
    this.#heartbeat = setInterval(() => {
      this.#announce().catch((error: unknown) => {
        if (error instanceof UnauthorizedError) {
          this.#notice("the trackers ended this session; log in again to share");
          void this.#goOffline().then(() => {
            this.#userId = undefined;
            this.tracker.token = undefined;
          });
        }
      });
    }, this.#heartbeatMs);
    this.#heartbeat.unref();
  }
}

export function startPeerNode(options: PeerNodeOptions): Promise<PeerNode> {
  return PeerNode.start(options);
}

/** Why a shared file cannot be served as recorded, or undefined when it is as it was. */
async function changedOnDisk(record: ShareRecord): Promise<string | undefined> {
  if (record.download) return undefined;
  if (record.manifest) {
    const now = await folderFingerprint(record.path, record.manifest);
    if (!now) return `the folder ${record.path} lost a file or one changed size`;
    if (now.size !== record.checkedSize || now.mtimeMs !== record.checkedMtimeMs) return `the folder ${record.path} changed on disk since it was shared`;
    return undefined;
  }
  const info = await stat(record.path).catch(() => undefined);
  if (!info) return `the file ${record.path} disappeared`;
  if (info.size !== record.checkedSize || info.mtimeMs !== record.checkedMtimeMs) {
    return `the file ${record.path} changed on disk since it was shared`;
  }
  return undefined;
}

/** Hashes one file for sharing; refused when it changed while it was hashed. */
async function hashOneFile(
  path: string,
  before: Stats,
  onProgress?: (bytesDone: number, size: number) => void,
): Promise<{ digest: FileDigest; manifest?: undefined; checked: { size: number; mtimeMs: number } }> {
  const digest = await hashFile(path, onProgress);
  const after = await stat(path);
  if (after.mtimeMs !== before.mtimeMs || after.size !== digest.size) {
    throw new ConflictError(`${path} changed while it was being hashed; try again`, Codes.FILE_CHANGED);
  }
  return { digest, checked: { size: after.size, mtimeMs: after.mtimeMs } };
}

/** How many bytes of the file the verified pieces hold. */
function verifiedBytes(verified: Bitfield, file: FileMetadata): number {
  let bytes = 0;
  for (let i = 0; i < verified.size; i++) {
    if (!verified.has(i)) continue;
    const { start, end } = pieceBounds(i, file.size, file.pieceSize);
    bytes += end - start;
  }
  return bytes;
}

/** A tracker's answer is checked like any other input: right file, sane pieces. */
function checkMetadata(file: FileMetadata, groupId: string, fileName: string, sha1?: string): FileMetadata {
  const expectedPieces = Math.ceil(file.size / file.pieceSize);
  if (
    file.groupId !== groupId ||
    file.fileName !== fileName ||
    (sha1 !== undefined && file.sha1 !== sha1) ||
    file.pieceSize !== PIECE_SIZE ||
    file.pieceHashes.length !== expectedPieces
  ) {
    throw new AppError(502, Codes.TRACKER_BAD_ANSWER, `the tracker's description of "${fileName}" is inconsistent; not downloading it`);
  }
  return file;
}

function shortReason(reason: string): string {
  return /:\s*(\S+)$/.exec(reason)?.[1] ?? reason;
}

/** A download limit of 0 would hold every download forever without saying so: pause_download-like intent needs its own command. */
function checkedDownloadRate(bytesPerSecond: number | undefined): number | undefined {
  if (bytesPerSecond === 0) throw new ValidationError("a download limit of 0 would stall every download; give a rate or unlimited", Codes.BAD_RATE);
  return bytesPerSecond;
}

/** Running or waiting for its turn: what pause, cancel, logout and stop_share act on. */
function isActive(state: DownloadInfo["state"]): boolean {
  return state === "downloading" || state === "queued";
}
