-- Replication registers (see tracker-api/src/replication/README.md).
-- Generated with `prisma migrate diff --from-schema-datamodel <previous schema> --to-schema-datamodel prisma/schema.prisma --script`.
-- CreateTable
CREATE TABLE "Register" (
    "kind" TEXT NOT NULL,
    "groupId" TEXT NOT NULL DEFAULT '',
    "incarnation" TEXT NOT NULL DEFAULT '',
    "fileName" TEXT NOT NULL DEFAULT '',
    "userId" TEXT NOT NULL DEFAULT '',
    "hlc" TEXT NOT NULL,
    "live" BOOLEAN NOT NULL,
    "value" TEXT NOT NULL,

    PRIMARY KEY ("kind", "groupId", "incarnation", "fileName", "userId")
);

-- CreateIndex
CREATE INDEX "Register_groupId_incarnation_fileName_idx" ON "Register"("groupId", "incarnation", "fileName");

