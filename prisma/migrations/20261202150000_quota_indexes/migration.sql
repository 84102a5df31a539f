-- Per-user quotas (issue 14) count a user's groups and pending join requests in every such write:
-- indexed, so the count reads that user's rows instead of scanning the table.
-- CreateIndex
CREATE INDEX "Group_ownerId_idx" ON "Group"("ownerId");

-- CreateIndex
CREATE INDEX "JoinRequest_userId_idx" ON "JoinRequest"("userId");
