#nullable disable
// Compiled twice: into the MSBuild inline task of CtrDsl.Torch.targets (RoslynCodeTaskFactory), and into
// tests/Torch.Tests (with ELF_WEAK_VERSION_TESTS defined, so without the MSBuild task class).
using System;
using System.Collections.Generic;
using System.IO;
using System.Text;

namespace CtrDsl.Torch.Build
{
    /// <summary>
    /// Marks chosen version requirements of an ELF64 little-endian shared library weak (VER_FLG_WEAK in its
    /// .gnu.version_r section). The dynamic loader then accepts a library whose system libstdc++ lacks that version
    /// instead of refusing to load it; a symbol bound to the version must still resolve, so this is safe only for a
    /// version no relocation needs (libLibTorchSharp.so's GLIBCXX_3.4.32 holds one symbol, the GCC 13 marker
    /// std::ios_base_library_init(), which no relocation references). Nothing else in the file changes.
    /// </summary>
    public static class ElfWeakVersion
    {
        const uint ShtGnuVerneed = 0x6ffffffe;
        const ushort VerFlgWeak = 0x2;

        /// <summary>Sets VER_FLG_WEAK on every requirement named in <paramref name="versions"/>; returns the names it
        /// newly marked (empty when already weak or absent). Throws <see cref="InvalidDataException"/> for a file that is
        /// not an ELF64 little-endian object or whose version section runs outside the file.</summary>
        public static List<string> Patch(byte[] elf, ICollection<string> versions)
        {
            var marked = new List<string>();
            if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
                throw new InvalidDataException("not an ELF file");
            if (elf[4] != 2 || elf[5] != 1) throw new InvalidDataException("not a 64-bit little-endian ELF file");
            long shoff = (long)U64(elf, 0x28);
            int shentsize = U16(elf, 0x3A), shnum = U16(elf, 0x3C);
            Check(elf, shoff, (long)shentsize * shnum);
            for (int s = 0; s < shnum; s++)
            {
                long sh = shoff + (long)s * shentsize;
                if (U32(elf, sh + 4) != ShtGnuVerneed) continue;
                long offset = (long)U64(elf, sh + 0x18), size = (long)U64(elf, sh + 0x20);
                uint link = U32(elf, sh + 0x28), count = U32(elf, sh + 0x2C);
                Check(elf, offset, size);
                long strtab = (long)U64(elf, shoff + (long)link * shentsize + 0x18);
                long need = offset;
                for (uint i = 0; i < count; i++)
                {
                    Check(elf, need, 16);
                    int auxCount = U16(elf, need + 2);
                    long aux = need + U32(elf, need + 8);
                    for (int a = 0; a < auxCount; a++)
                    {
                        Check(elf, aux, 16);
                        string name = CString(elf, strtab + U32(elf, aux + 8));
                        ushort flags = U16(elf, aux + 4);
                        if (versions.Contains(name) && (flags & VerFlgWeak) == 0)
                        {
                            W16(elf, aux + 4, (ushort)(flags | VerFlgWeak));
                            marked.Add(name);
                        }
                        aux += U32(elf, aux + 12);
                    }
                    need += U32(elf, need + 12);
                }
            }
            return marked;
        }

        /// <summary>The versions of <paramref name="versions"/> that the system's libstdc++.so.6 does not define (all of
        /// them when none is found in the usual directories). A defined version name is a NUL-terminated string in its
        /// dynamic string table, so a byte search finds it.</summary>
        public static List<string> MissingFromSystemLibstdcxx(IEnumerable<string> versions)
        {
            string[] dirs = { "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/lib64", "/usr/lib", "/lib" };
            byte[] lib = null;
            foreach (var d in dirs)
            {
                var p = Path.Combine(d, "libstdc++.so.6");
                if (File.Exists(p)) { lib = File.ReadAllBytes(p); break; }
            }
            var missing = new List<string>();
            foreach (var v in versions)
                if (lib == null || IndexOf(lib, Encoding.ASCII.GetBytes(v + "\0")) < 0) missing.Add(v);
            return missing;
        }

        /// <summary>Patches <paramref name="path"/> in place through a temporary file and a rename (so a hard link to a
        /// package cache is never written through), keeping its timestamp so an incremental build does not copy it
        /// again. Returns the names newly marked.</summary>
        public static List<string> PatchFile(string path, ICollection<string> versions)
        {
            var bytes = File.ReadAllBytes(path);
            var marked = Patch(bytes, versions);
            if (marked.Count == 0) return marked;
            var stamp = File.GetLastWriteTimeUtc(path);
            var tmp = path + ".weak-tmp";
            File.WriteAllBytes(tmp, bytes);
            File.SetLastWriteTimeUtc(tmp, stamp);
            File.Replace(tmp, path, null); // a rename: the old inode (perhaps a hard link into a cache) is left as it was
            return marked;
        }

        static int IndexOf(byte[] hay, byte[] needle)
        {
            for (int i = 0; i + needle.Length <= hay.Length; i++)
            {
                if (hay[i] != needle[0]) continue;
                int j = 1;
                while (j < needle.Length && hay[i + j] == needle[j]) j++;
                if (j == needle.Length) return i;
            }
            return -1;
        }

        static void Check(byte[] b, long offset, long length)
        {
            if (offset < 0 || length < 0 || offset + length > b.Length)
                throw new InvalidDataException($"ELF structure at {offset} (+{length}) runs outside the file ({b.Length} bytes)");
        }

        static string CString(byte[] b, long at)
        {
            Check(b, at, 1);
            long end = at;
            while (end < b.Length && b[end] != 0) end++;
            return Encoding.ASCII.GetString(b, (int)at, (int)(end - at));
        }

        static ushort U16(byte[] b, long at) { Check(b, at, 2); return (ushort)(b[at] | b[at + 1] << 8); }
        static uint U32(byte[] b, long at) { Check(b, at, 4); return (uint)(b[at] | b[at + 1] << 8 | b[at + 2] << 16 | b[at + 3] << 24); }
        static ulong U64(byte[] b, long at) => U32(b, at) | (ulong)U32(b, at + 4) << 32;
        static void W16(byte[] b, long at, ushort v) { b[at] = (byte)v; b[at + 1] = (byte)(v >> 8); }
    }

#if !ELF_WEAK_VERSION_TESTS
    /// <summary>The MSBuild task: weakens <see cref="Versions"/> in each of <see cref="Files"/> that the system's
    /// libstdc++ lacks; does nothing on a system that has them all.</summary>
    public sealed class WeakenElfVersions : Microsoft.Build.Utilities.Task
    {
        [Microsoft.Build.Framework.Required] public Microsoft.Build.Framework.ITaskItem[] Files { get; set; }
        [Microsoft.Build.Framework.Required] public string Versions { get; set; }

        public override bool Execute()
        {
            var missing = ElfWeakVersion.MissingFromSystemLibstdcxx(Versions.Split(new[] { ';' }, StringSplitOptions.RemoveEmptyEntries));
            if (missing.Count == 0) return true;
            foreach (var f in Files)
            {
                var marked = ElfWeakVersion.PatchFile(f.ItemSpec, missing);
                if (marked.Count > 0)
                    Log.LogMessage(Microsoft.Build.Framework.MessageImportance.High,
                        $"CtrDsl.Torch: marked {string.Join(", ", marked)} weak in {f.ItemSpec} (the system libstdc++ lacks it; docs/gpu.md)");
            }
            return true;
        }
    }
#endif
}
