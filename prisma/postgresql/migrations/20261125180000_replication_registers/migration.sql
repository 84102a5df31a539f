-- Derived from prisma/migrations/20261125180000_replication_registers/migration.sql (sha256 ddefc3177b704137b028087782436e4f57a57566a236672ad6e4b25240d4d76d) by `npm run db:postgres-schema`.
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

    CONSTRAINT "Register_pkey" PRIMARY KEY ("kind","groupId","incarnation","fileName","userId")
);

-- CreateIndex
CREATE INDEX "Register_groupId_incarnation_fileName_idx" ON "Register"("groupId", "incarnation", "fileName");

