-- The fingerprint an agent's TLS certificate is pinned to (issue 17). Nullable: sessions opened
-- before, and agents serving plain HTTP, have none.
-- AlterTable
ALTER TABLE "Session" ADD COLUMN "peerCertSha256" TEXT;
