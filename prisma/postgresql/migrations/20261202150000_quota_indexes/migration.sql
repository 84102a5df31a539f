-- Derived from prisma/migrations/20261202150000_quota_indexes/migration.sql (sha256 d3f55d9bc0d8bb65a9a3a02053924375937ac6a9bc43c284fa75656faacf9a27) by `npm run db:postgres-schema`.
-- CreateIndex
CREATE INDEX "Group_ownerId_idx" ON "Group"("ownerId");

-- CreateIndex
CREATE INDEX "JoinRequest_userId_idx" ON "JoinRequest"("userId");

