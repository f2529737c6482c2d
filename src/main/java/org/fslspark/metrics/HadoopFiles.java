package org.fslspark.metrics;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileContext;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Options;
import org.apache.hadoop.fs.Path;

import java.io.File;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;

/** Reading and writing files through the Hadoop FileSystem API; a writer's reader never sees half of one. */
public final class HadoopFiles {
    private HadoopFiles() {
    }

    public static void write(FileSystem fs, Path path, byte[] bytes) throws IOException {
        try (FSDataOutputStream out = fs.create(path, true)) {
            out.write(bytes);
        }
    }

    /**
     * Replaces {@code path} with {@code bytes} atomically: written beside it under a temporary name, then
     * renamed over it (FileContext's rename with OVERWRITE is one atomic step on HDFS and local files).
     */
    public static void replace(FileSystem fs, Path path, byte[] bytes) throws IOException {
        Path tmp = new Path(path.getParent(), "." + path.getName() + ".tmp");
        write(fs, tmp, bytes);
        FileContext.getFileContext(fs.getUri(), fs.getConf()).rename(tmp, path, Options.Rename.OVERWRITE);
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
