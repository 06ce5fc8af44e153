import { describe, expect, it } from 'vitest';
import { decodeManifest, encodeManifest, type Manifest } from '../../src/backup/manifest.js';

const sha = 'a'.repeat(64);

function sample(): Manifest {
  return {
    format: 'snapclone-backup-set',
    formatVersion: 1,
    tool: { name: 'snapclone', version: '0.1.0' },
    label: 'vm',
    createdAt: '2026-11-26T10:00:00.000Z',
    completedAt: '2026-11-26T10:01:00.000Z',
    source: { path: '/dev/vg/lv', kind: 'lvm-snapshot', sizeBytes: 1 << 30, vg: 'vg', lv: 'lv', snapshot: 'snapclone-lv-x' },
    consistency: 'crash-consistent',
    disk: { sizeBytes: 1 << 30, sectorSize: 512, label: 'dos', id: '0x1234', layoutFile: 'layout.json' },
    partitions: [
      {
        number: 1,
        startByte: 1 << 20,
        sizeBytes: 512 << 20,
        type: '7',
        filesystem: 'ntfs',
        image: 'p1.ntfsclone.img.bz2',
        imageFormat: 'ntfsclone+bzip2',
        imageBytes: 1000,
        ntfs: { clusterSize: 4096, nrClusters: 131071, inuse: 20000, deviceSize: 512 << 20, serial: '0x1234', version: '3.1' },
      },
      { number: 5, startByte: 513 << 20, sizeBytes: 1 << 20, type: '83', filesystem: 'raw', image: 'p5.img.bz2', imageFormat: 'raw+bzip2', imageBytes: 1 << 20 },
    ],
    compression: { format: 'bzip2', level: 2, threads: 2 },
    timings: { totalSeconds: 60, imagingSeconds: 55 },
    files: [
      { name: 'layout.json', sizeBytes: 100, sha256: sha },
      { name: 'p1.ntfsclone.img.bz2', sizeBytes: 500, sha256: sha },
      { name: 'p5.img.bz2', sizeBytes: 50, sha256: sha },
    ],
  };
}

describe('manifest', () => {
  it('round-trips', () => {
    const m = sample();
    expect(decodeManifest(encodeManifest(m))).toEqual(m);
  });
  it('round-trips every consistency, a freeze record and warnings', () => {
    for (const consistency of ['quiesced', 'crash-consistent', 'no-snapshot'] as const) {
      const m: Manifest = {
        ...sample(),
        consistency,
        quiesce: { agent: 'vm1:7410', frozenAt: '2026-11-26T10:00:00.000Z', thawedAt: '2026-11-26T10:00:00.400Z', frozenMs: 400, freezeOutput: 'flushed' },
        warnings: ['no snapshot'],
      };
      expect(decodeManifest(encodeManifest(m))).toEqual(m);
    }
  });
  it('rejects text that is not JSON', () => {
    expect(() => decodeManifest(encodeManifest(sample()).slice(0, 20))).toThrow(expect.objectContaining({ code: 'SET_BAD_MANIFEST' }));
  });
  it.each<[string, (m: Manifest) => void]>([
    ['wrong format', (m) => ((m as { format: string }).format = 'other')],
    ['path escape in a file name', (m) => (m.files[0]!.name = '../etc/passwd')],
    ['duplicate file names', (m) => (m.files[1]!.name = 'layout.json')],
    ['bad sha', (m) => (m.files[0]!.sha256 = 'zz')],
    ['negative size', (m) => (m.files[0]!.sizeBytes = -1)],
    ['image not listed', (m) => (m.partitions[0]!.image = 'p9.img.bz2')],
    ['partition past the disk', (m) => (m.partitions[0]!.sizeBytes = 5 * 2 ** 30)],
    ['bad consistency', (m) => ((m as { consistency: string }).consistency = 'maybe')],
    ['layout file not listed', (m) => (m.disk.layoutFile = 'nope.json')],
    ['an NTFS image without its geometry', (m) => delete m.partitions[0]!.ntfs],
    ['more clusters in use than the volume has', (m) => (m.partitions[0]!.ntfs!.inuse = 131072)],
    ['an image format that is not the file system\'s', (m) => (m.partitions[1]!.imageFormat = 'ntfsclone+bzip2')],
    ['a raw image of another size than its partition', (m) => (m.partitions[1]!.imageBytes = 5)],
    ['two images for one partition', (m) => (m.partitions[1]!.number = 1)],
  ])('rejects %s with SET_BAD_MANIFEST', (_name, damage) => {
    const m = sample();
    damage(m);
    expect(() => decodeManifest(JSON.stringify(m))).toThrow(expect.objectContaining({ code: 'SET_BAD_MANIFEST' }));
  });
  it('refuses a newer format version with its own code', () => {
    const text = encodeManifest({ ...sample(), formatVersion: 99 });
    expect(() => decodeManifest(text)).toThrow(expect.objectContaining({ code: 'SET_UNSUPPORTED_VERSION' }));
  });
});
