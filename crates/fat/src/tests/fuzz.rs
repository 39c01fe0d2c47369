//! Random damage: bytes of the boot sector, the FAT and the directories of a small
//! image are changed at random, then everything on it is listed and read. Errors
//! are expected; a panic or a hang fails the test.

use super::{Image, sample};
use crate::device::SliceDevice;
use crate::volume::Volume;

/// A small deterministic generator (xorshift64*), so a failure is repeatable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Lists and reads everything reachable from `dir`, ignoring errors.
fn visit_all(volume: &mut Volume<SliceDevice<'_>>, dir: &str, depth: usize) {
    let Ok(entries) = volume.read_dir(dir) else {
        return;
    };
    for entry in entries.iter().take(64) {
        let path = format!("{}/{}", dir.trim_end_matches('/'), entry.name);
        if entry.is_dir {
            if depth < 5 {
                visit_all(volume, &path, depth + 1);
            }
        } else {
            let _ = volume.read_to_vec(&path, 512 * 1024);
            let _ = volume.read_into(&path, &mut [0u8; 100]);
            let _ = volume.stat(&path.to_uppercase());
        }
    }
}

/// Byte ranges worth damaging: the boot sector, the start of the FAT, and the
/// first cluster of every directory.
fn targets(image: &Image) -> Vec<std::ops::Range<usize>> {
    let geometry = image.geometry();
    let fat = geometry.fat_lba as usize * 512;
    let mut ranges = vec![0..512, fat..fat + 8192];
    for dir in ["/", "/images", "/vms", "/a", "/a/b", "/a/b/c", "/frag"] {
        let cluster = match dir {
            "/" => geometry.root_cluster,
            _ => image.first_cluster(dir),
        };
        let at = image.cluster_offset(cluster);
        ranges.push(at..at + 512);
    }
    ranges
}

#[test]
fn random_damage_never_panics() {
    let mut image = sample();
    let ranges = targets(&image);
    let mut rng = Rng(0x5EED_F00D_CAFE_0001);
    for _ in 0..4000 {
        let mut saved = Vec::new();
        for _ in 0..=rng.below(4) {
            let range = &ranges[rng.below(ranges.len())];
            let at = range.start + rng.below(range.len());
            saved.push((at, image.bytes[at]));
            image.bytes[at] = match rng.below(3) {
                0 => image.bytes[at] ^ (1 << rng.below(8)),
                1 => [0x00, 0xFF, 0xE5, 0x0F, 0x10, 0x2E][rng.below(6)],
                _ => rng.next() as u8,
            };
        }
        if let Ok(mut volume) = Volume::mount(SliceDevice::new(&image.bytes)) {
            visit_all(&mut volume, "/", 0);
        }
        for (at, byte) in saved.into_iter().rev() {
            image.bytes[at] = byte;
        }
    }
    // Everything was put back.
    assert_eq!(
        image.mount().read_to_vec("/a/b/c/deep.txt", 8).unwrap(),
        b"deep"
    );
}

#[test]
fn random_boot_sectors_never_panic() {
    let mut rng = Rng(0xB007_5EC7_0000_0002);
    let mut disk = vec![0u8; 1 << 20];
    for _ in 0..3000 {
        for byte in &mut disk[..512] {
            *byte = rng.next() as u8;
        }
        // Mostly plausible values where the checks start, random elsewhere.
        disk[0] = 0xEB;
        disk[2] = 0x90;
        disk[11..13].copy_from_slice(&512u16.to_le_bytes());
        disk[13] = 1 << rng.below(8);
        disk[17..19].fill(0);
        disk[22..24].fill(0);
        disk[42..44].fill(0);
        disk[510] = 0x55;
        disk[511] = 0xAA;
        if let Ok(mut volume) = Volume::mount(SliceDevice::new(&disk)) {
            visit_all(&mut volume, "/", 0);
        }
    }
}
