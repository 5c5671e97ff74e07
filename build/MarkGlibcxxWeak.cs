// MSBuild task (compiled by RoslynCodeTaskFactory, so it needs nothing but the .NET SDK).
//
// TorchSharp 0.107's libLibTorchSharp.so was linked against GCC 13's libstdc++ and declares a
// requirement on GLIBCXX_3.4.32 for a single symbol (_ZSt21ios_base_library_initv) that no
// relocation uses. Debian 12 / Ubuntu 22.04 ship libstdc++ up to GLIBCXX_3.4.30, so the loader
// refuses the library and TorchSharp reports a misleading "no reference to libtorch" error.
// Marking those version requirements weak (VER_FLG_WEAK in .gnu.version_r) makes the dynamic
// loader accept the library; the symbols it actually binds all exist in the older libstdc++.
// The task edits only the copy in the build output, never the NuGet cache, and is a no-op when
// the system libstdc++ already provides the versions or the file is already patched.
#nullable enable
using System;
using System.Collections.Generic;
using System.IO;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

public sealed class MarkGlibcxxWeak : Task
{
    private const uint ShtGnuVerneed = 0x6ffffffe;
    private const ushort VerFlgWeak = 0x2;

    /// <summary>Shared libraries to patch in place (paths inside the build output).</summary>
    [Required]
    public ITaskItem[] Files { get; set; } = Array.Empty<ITaskItem>();

    /// <summary>Version names that may be weakened when the system lacks them.</summary>
    public string Versions { get; set; } = "GLIBCXX_3.4.31;GLIBCXX_3.4.32;GLIBCXX_3.4.33";

    /// <summary>Patch even if the system libstdc++ provides the versions.</summary>
    public bool Force { get; set; }

    public override bool Execute()
    {
        var wanted = new HashSet<string>(Versions.Split(new[] { ';', ',' }, StringSplitOptions.RemoveEmptyEntries));
        if (!Force)
        {
            var provided = SystemLibstdcxxVersions();
            if (provided == null)
            {
                Log.LogMessage(MessageImportance.Low, "MarkGlibcxxWeak: no system libstdc++ found; nothing to do.");
                return true;
            }
            wanted.RemoveWhere(v => provided.Contains(v));
            if (wanted.Count == 0)
            {
                Log.LogMessage(MessageImportance.Low, "MarkGlibcxxWeak: system libstdc++ provides every version; nothing to do.");
                return true;
            }
        }

        foreach (var item in Files)
        {
            string path = item.ItemSpec;
            if (!File.Exists(path)) continue;
            try
            {
                int changed = Patch(path, wanted);
                if (changed > 0)
                    Log.LogMessage(MessageImportance.Normal, $"MarkGlibcxxWeak: marked {changed} version requirement(s) weak in {path}");
            }
            catch (Exception ex) when (ex is IOException || ex is InvalidDataException || ex is UnauthorizedAccessException)
            {
                Log.LogError($"MarkGlibcxxWeak: cannot patch '{path}': {ex.Message}");
                return false;
            }
        }
        return !Log.HasLoggedErrors;
    }

    /// <summary>Version names defined by the system libstdc++, or null when none is found.</summary>
    private static HashSet<string>? SystemLibstdcxxVersions()
    {
        string[] candidates =
        {
            "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/lib/x86_64-linux-gnu/libstdc++.so.6",
            "/usr/lib/aarch64-linux-gnu/libstdc++.so.6", "/usr/lib64/libstdc++.so.6", "/usr/lib/libstdc++.so.6",
        };
        foreach (var c in candidates)
        {
            if (!File.Exists(c)) continue;
            // Version definition names sit in .dynstr as NUL-terminated strings; a text scan is enough.
            var text = Encoding.ASCII.GetString(File.ReadAllBytes(c));
            var set = new HashSet<string>();
            int i = 0;
            while ((i = text.IndexOf("GLIBCXX_", i, StringComparison.Ordinal)) >= 0)
            {
                int end = text.IndexOf('\0', i);
                if (end < 0) break;
                set.Add(text.Substring(i, end - i));
                i = end;
            }
            return set;
        }
        return null;
    }

    /// <summary>Sets VER_FLG_WEAK on matching Elf64_Vernaux entries; returns how many changed.</summary>
    private static int Patch(string path, HashSet<string> names)
    {
        byte[] elf = File.ReadAllBytes(path);
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
            throw new InvalidDataException("not an ELF file");
        if (elf[4] != 2 || elf[5] != 1)
            throw new InvalidDataException("only 64-bit little-endian ELF is supported");

        ulong shoff = BitConverter.ToUInt64(elf, 0x28);
        int shentsize = BitConverter.ToUInt16(elf, 0x3A);
        int shnum = BitConverter.ToUInt16(elf, 0x3C);
        if (shoff == 0 || shentsize < 64 || shoff + (ulong)(shentsize * shnum) > (ulong)elf.Length)
            throw new InvalidDataException("section header table lies outside the file");

        long SectionField64(int index, int field) => (long)BitConverter.ToUInt64(elf, (int)shoff + index * shentsize + field);
        uint SectionField32(int index, int field) => BitConverter.ToUInt32(elf, (int)shoff + index * shentsize + field);

        int changed = 0;
        for (int s = 0; s < shnum; s++)
        {
            if (SectionField32(s, 4) != ShtGnuVerneed) continue;
            long secOff = SectionField64(s, 24);
            int link = (int)SectionField32(s, 40);
            uint count = SectionField32(s, 44);
            if (link >= shnum) throw new InvalidDataException("verneed string table index out of range");
            long strOff = SectionField64(link, 24);
            long strSize = SectionField64(link, 32);

            string ReadName(uint offset)
            {
                if (offset >= strSize) throw new InvalidDataException("version name outside its string table");
                int start = (int)(strOff + offset);
                int end = Array.IndexOf(elf, (byte)0, start);
                if (end < 0) throw new InvalidDataException("unterminated version name");
                return Encoding.ASCII.GetString(elf, start, end - start);
            }

            long need = secOff;
            for (uint n = 0; n < count; n++)
            {
                if (need + 16 > elf.Length) throw new InvalidDataException("verneed entry outside the file");
                ushort auxCount = BitConverter.ToUInt16(elf, (int)need + 2);
                uint auxOff = BitConverter.ToUInt32(elf, (int)need + 8);
                uint next = BitConverter.ToUInt32(elf, (int)need + 12);
                long aux = need + auxOff;
                for (int a = 0; a < auxCount; a++)
                {
                    if (aux + 16 > elf.Length) throw new InvalidDataException("vernaux entry outside the file");
                    ushort flags = BitConverter.ToUInt16(elf, (int)aux + 4);
                    uint nameOff = BitConverter.ToUInt32(elf, (int)aux + 8);
                    uint auxNext = BitConverter.ToUInt32(elf, (int)aux + 12);
                    if (names.Contains(ReadName(nameOff)) && (flags & VerFlgWeak) == 0)
                    {
                        flags |= VerFlgWeak;
                        elf[aux + 4] = (byte)(flags & 0xff);
                        elf[aux + 5] = (byte)(flags >> 8);
                        changed++;
                    }
                    if (auxNext == 0) break;
                    aux += auxNext;
                }
                if (next == 0) break;
                need += next;
            }
        }

        if (changed > 0)
        {
            // The output copy may be a hard link into the NuGet cache; replace the file instead of writing through it.
            string tmp = path + ".patching";
            File.WriteAllBytes(tmp, elf);
            File.Delete(path);
            File.Move(tmp, path);
        }
        return changed;
    }
}
