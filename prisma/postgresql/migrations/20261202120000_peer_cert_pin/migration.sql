-- Derived from prisma/migrations/20261202120000_peer_cert_pin/migration.sql (sha256 05f4355a3f23130d84eff6b4c1992ac77bd87bd81a20896f64abf0486081417d) by `npm run db:postgres-schema`.
-- AlterTable
ALTER TABLE "Session" ADD COLUMN     "peerCertSha256" TEXT;

