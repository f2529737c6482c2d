package org.fslspark.metrics;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FileContext;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocalFileSystem;
import org.apache.hadoop.fs.Options;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RawLocalFileSystem;

import java.io.BufferedOutputStream;
import java.io.File;
import java.io.FileNotFoundException;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;

/**
 * Reading and writing files through the Hadoop FileSystem API; a writer's reader never sees half of one.
 *
 * <p>Files of the local file system are written with java.nio instead: without Hadoop's native library, its local
 * file system runs a {@code chmod} process for every file it creates and a {@code readlink} for every rename
 * (measured: 66 ms a write and 240 ms a replace, against under 1 ms, on this project's 2-core machines with their
 * JVMs' 6 GB heaps), and a run writes dozens of files a round (results, checkpoints). Hadoop's checksum beside
 * such a file ({@code .name.crc}, left by an earlier Hadoop write) is removed first, so that Hadoop's readers, which
 * verify a checksum only when one exists, read the new bytes.
 */
public final class HadoopFiles {
    private HadoopFiles() {
    }

    public static void write(FileSystem fs, Path path, byte[] bytes) throws IOException {
        write(fs, path, out -> out.write(bytes));
    }

    /** What a file holds, written to a stream piece by piece (a large frame that is never whole in memory). */
    @FunctionalInterface
    public interface Content {
        void writeTo(OutputStream out) throws IOException;
    }

    /** Writes {@code content} to {@code path}, buffered; returns how many bytes it wrote. */
    public static long write(FileSystem fs, Path path, Content content) throws IOException {
        java.nio.file.Path local = local(fs, path);
        if (local != null) {
            java.nio.file.Files.createDirectories(local.getParent());
            dropChecksum(local);
        }
        long[] written = {0};
        OutputStream file = local == null ? fs.create(path, true) : java.nio.file.Files.newOutputStream(local);
        try (OutputStream out = new BufferedOutputStream(new FilterOutputStream(file) {
                 @Override
                 public void write(byte[] b, int off, int len) throws IOException {
                     out.write(b, off, len);
                     written[0] += len;
                 }

                 @Override
                 public void write(int b) throws IOException {
                     out.write(b);
                     written[0]++;
                 }
             }, 1 << 16)) {
            content.writeTo(out);
        }
        return written[0];
    }

    /**
     * Replaces {@code path} with {@code bytes} atomically: written beside it under a temporary name, then
     * renamed over it (FileContext's rename with OVERWRITE is one atomic step on HDFS, rename(2) on local files).
     */
    public static void replace(FileSystem fs, Path path, byte[] bytes) throws IOException {
        Path tmp = new Path(path.getParent(), "." + path.getName() + ".tmp");
        write(fs, tmp, bytes);
        java.nio.file.Path local = local(fs, path);
        if (local == null) {
            FileContext.getFileContext(fs.getUri(), fs.getConf()).rename(tmp, path, Options.Rename.OVERWRITE);
            return;
        }
        dropChecksum(local);
        java.nio.file.Files.move(local(fs, tmp), local, java.nio.file.StandardCopyOption.ATOMIC_MOVE,
                java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }

    /** The file a path of a local file system names; null on any other file system. */
    private static java.nio.file.Path local(FileSystem fs, Path path) {
        if (!(fs instanceof LocalFileSystem || fs instanceof RawLocalFileSystem)) {
            return null;
        }
        return java.nio.file.Path.of(fs.makeQualified(path).toUri());
    }

    private static void dropChecksum(java.nio.file.Path file) throws IOException {
        java.nio.file.Files.deleteIfExists(file.resolveSibling("." + file.getFileName() + ".crc"));
    }

    /** Whether a location names its file system ({@code hdfs://nn/x}, {@code file:/x}); otherwise it is a local path. */
    public static boolean hasScheme(String location) {
        return location.matches("[a-zA-Z][a-zA-Z0-9+.-]*:.*");
    }

    /**
     * A small text file (a config) named by a local path or any Hadoop URI, read whole. A path without
     * a scheme is a file of this process's local file system, never of Hadoop's default one: a config
     * named on the command line is where the command runs (in YARN cluster mode, jobs/submit ships it
     * into the driver's container). A missing file is reported with where it was looked for.
     */
    public static String readText(String location, Configuration hadoop) throws FileNotFoundException {
        try {
            if (!hasScheme(location)) {
                File f = new File(location);
                if (!f.isFile()) {
                    throw new FileNotFoundException(location + " does not exist (looked for " + f.getAbsolutePath()
                            + " on the local file system of " + host() + "; a path without a scheme is local to the driver"
                            + " - in YARN cluster mode its container - so ship the file with the application or name it by a"
                            + " hdfs:// URI)");
                }
                return java.nio.file.Files.readString(f.toPath(), StandardCharsets.UTF_8);
            }
            Path p = new Path(location);
            FileSystem fs = p.getFileSystem(hadoop);
            if (!fs.isFile(p)) {
                throw new FileNotFoundException(location + " does not exist (looked for " + fs.makeQualified(p)
                        + " on " + fs.getUri() + ")");
            }
            try (FSDataInputStream in = fs.open(p)) {
                return new String(in.readAllBytes(), StandardCharsets.UTF_8);
            }
        } catch (FileNotFoundException e) {
            throw e;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + location + ": " + e.getMessage(), e);
        }
    }

    private static String host() {
        try {
            return InetAddress.getLocalHost().getHostName() + " (working directory " + new File("").getAbsolutePath() + ")";
        } catch (IOException e) {
            return "this host (working directory " + new File("").getAbsolutePath() + ")";
        }
    }
}
