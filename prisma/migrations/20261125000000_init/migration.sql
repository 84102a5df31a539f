-- CreateTable
CREATE TABLE "User" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "passwordHash" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL
);

-- CreateTable
CREATE TABLE "Session" (
    "tokenHash" TEXT NOT NULL PRIMARY KEY,
    "userId" TEXT NOT NULL,
    "peerAddress" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL,
    "expiresAt" DATETIME NOT NULL,
    "lastSeenAt" DATETIME NOT NULL
);

-- CreateTable
CREATE TABLE "Group" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "ownerId" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL
);

-- CreateTable
CREATE TABLE "Membership" (
    "groupId" TEXT NOT NULL,
    "userId" TEXT NOT NULL,
    "joinedAt" DATETIME NOT NULL,

    PRIMARY KEY ("groupId", "userId")
);

-- CreateTable
CREATE TABLE "JoinRequest" (
    "groupId" TEXT NOT NULL,
    "userId" TEXT NOT NULL,
    "requestedAt" DATETIME NOT NULL,

    PRIMARY KEY ("groupId", "userId")
);

-- CreateTable
CREATE TABLE "SharedFile" (
    "groupId" TEXT NOT NULL,
    "fileName" TEXT NOT NULL,
    "size" BIGINT NOT NULL,
    "sha1" TEXT NOT NULL,
    "pieceSize" INTEGER NOT NULL,
    "pieceHashes" TEXT NOT NULL,
    "sharedAt" DATETIME NOT NULL,

    PRIMARY KEY ("groupId", "fileName")
);

-- CreateTable
CREATE TABLE "Holding" (
    "groupId" TEXT NOT NULL,
    "fileName" TEXT NOT NULL,
    "userId" TEXT NOT NULL,
    "piecesHeld" INTEGER NOT NULL,
    "updatedAt" DATETIME NOT NULL,

    PRIMARY KEY ("groupId", "fileName", "userId")
);

-- CreateTable
CREATE TABLE "Event" (
    "origin" TEXT NOT NULL,
    "seq" INTEGER NOT NULL,
    "hlc" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "payload" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL,

    PRIMARY KEY ("origin", "seq")
);

-- CreateTable
CREATE TABLE "IdempotencyKey" (
    "key" TEXT NOT NULL PRIMARY KEY,
    "userId" TEXT NOT NULL,
    "status" INTEGER NOT NULL,
    "body" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL
);

-- CreateIndex
CREATE INDEX "Session_userId_idx" ON "Session"("userId");

-- CreateIndex
CREATE INDEX "Membership_userId_idx" ON "Membership"("userId");

-- CreateIndex
CREATE INDEX "Holding_userId_idx" ON "Holding"("userId");

-- CreateIndex
CREATE INDEX "Event_hlc_idx" ON "Event"("hlc");

