package org.fslspark.data;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.parquet.column.page.PageReadStore;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.example.data.simple.convert.GroupRecordConverter;
import org.apache.parquet.hadoop.ParquetFileWriter;
import org.apache.parquet.hadoop.ParquetWriter;
import org.apache.parquet.hadoop.api.WriteSupport;
import org.apache.parquet.hadoop.metadata.CompressionCodecName;
import org.apache.parquet.hadoop.util.HadoopOutputFile;
import org.apache.parquet.io.ColumnIOFactory;
import org.apache.parquet.io.MessageColumnIO;
import org.apache.parquet.io.OutputFile;
import org.apache.parquet.io.RecordReader;
import org.apache.parquet.io.api.RecordConsumer;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.MessageTypeParser;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Collectors;

/**
 * One institute's share of a tokenized text corpus at its own location, laid out as image shares are
 * ({@link PartitionStore}): {@code <location>/part-00000.parquet} (schema in data-schemas/token-partition.json)
 * and {@code <location>/_SUCCESS}, a summary with {@code kind=tokens}. The footer names the institute;
 * {@link #read} refuses another institute's share before reading any row.
 */
public final class TokenStore {
    /** The {@code kind} of a token partition in its summary and footer. */
    public static final String KIND = "tokens";
    public static final String SEQUENCE_ID = "sequence_id";
    public static final String DOCUMENT = "document";
    public static final String TOKENS = "tokens";
    public static final String META_VOCAB = "vocab";
    public static final String META_CONTEXT = "context";
    public static final String META_TOKENIZER = "tokenizer";
    static final String FORMAT_VERSION = "1";

    private TokenStore() {
    }

    /** What a token location holds, from its {@code _SUCCESS} summary. */
    public record Info(String institute, String dataset, String tokenizer, int vocab, int context, long sequences,
                       long documents) {
    }

    /** The Parquet schema of a token partition: ids, source document and the context + 1 tokens as a list. */
    public static MessageType schema() {
        return MessageTypeParser.parseMessageType("message token_partition {\n"
                + "  required int64 " + SEQUENCE_ID + ";\n"
                + "  required int64 " + DOCUMENT + ";\n"
                + "  required group " + TOKENS + " (LIST) {\n"
                + "    repeated group list {\n"
                + "      required int32 element;\n"
                + "    }\n"
                + "  }\n"
                + "}");
    }

    /** The footer metadata of a share. */
    public static Map<String, String> metadata(TokenSequences data, String dataset, String institute, String tokenizer) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put(ParquetImages.META_INSTITUTE, institute);
        m.put(ParquetImages.META_DATASET, dataset);
        m.put("kind", KIND);
        m.put(META_TOKENIZER, tokenizer);
        m.put(META_VOCAB, Integer.toString(data.vocab()));
        m.put(META_CONTEXT, Integer.toString(data.context()));
        m.put(ParquetImages.META_FORMAT_VERSION, FORMAT_VERSION);
        return m;
    }

    /** Writes {@code data} with {@code metadata} as one new Parquet file (fails if it exists). */
    public static void writeFile(Configuration conf, Path file, TokenSequences data, Map<String, String> metadata)
            throws IOException {
        try (ParquetWriter<Integer> w = new RowWriterBuilder(HadoopOutputFile.fromPath(file, conf), new Support(data, metadata))
                .withConf(conf)
                .withWriteMode(ParquetFileWriter.Mode.CREATE)
                .withCompressionCodec(CompressionCodecName.SNAPPY)
                .build()) {
            for (int i = 0; i < data.size(); i++) {
                w.write(i);
            }
        }
    }

    /** Writes {@code data} as the share of {@code institute} at {@code location}. */
    public static Info write(Configuration conf, Path location, String institute, String dataset, String tokenizer,
                             TokenSequences data, boolean overwrite) {
        PartitionStore.Staged s = stage(conf, location, institute, dataset, tokenizer, data, Map.of());
        try {
            s.commit(overwrite);
        } catch (RuntimeException e) {
            s.abort();
            throw e;
        }
        return (Info) s.info;
    }

    /**
     * Writes the share to a hidden sibling of {@code location}; nothing appears there until committed.
     * {@code prepared}: the keys prepare applied ({@link PreparedKeys}).
     */
    static PartitionStore.Staged stage(Configuration conf, Path location, String institute, String dataset,
                                       String tokenizer, TokenSequences data, Map<String, String> prepared) {
        PartitionStore.checkInstituteName(institute);
        location = PartitionStore.normalize(location);
        String where = DataFiles.qualified(conf, location);
        if (location.getParent() == null) {
            throw new DataException(where + ": a partition cannot be written to a file system root");
        }
        Path tmp = new Path(location.getParent(), "." + location.getName() + ".tmp-" + UUID.randomUUID());
        FileSystem fs;
        try {
            fs = location.getFileSystem(conf);
        } catch (IOException e) {
            throw new DataException(where + ": cannot write (" + e.getMessage() + ")", e);
        }
        Info info = new Info(institute, dataset, tokenizer, data.vocab(), data.context(), data.size(), data.documentCount());
        try {
            writeFile(conf, new Path(tmp, PartitionStore.DATA_FILE), data, metadata(data, dataset, institute, tokenizer));
            try (FSDataOutputStream out = fs.create(new Path(tmp, PartitionStore.SUCCESS), false)) {
                out.write((summaryText(info, data.tokens().length) + PreparedKeys.lines(prepared))
                        .getBytes(StandardCharsets.UTF_8));
            }
        } catch (IOException | RuntimeException e) {
            PartitionStore.deleteQuietly(fs, tmp);
            throw new DataException("cannot write the partition of '" + institute + "' to " + where + ": " + e, e);
        }
        return new PartitionStore.Staged(fs, location, where, tmp, info);
    }

    private static String summaryText(Info i, long tokens) {
        Map<String, String> kv = new LinkedHashMap<>();
        kv.put("institute", i.institute());
        kv.put("dataset", i.dataset());
        kv.put("kind", KIND);
        kv.put(META_TOKENIZER, i.tokenizer());
        kv.put(META_VOCAB, Integer.toString(i.vocab()));
        kv.put(META_CONTEXT, Integer.toString(i.context()));
        kv.put("sequences", Long.toString(i.sequences()));
        kv.put("documents", Long.toString(i.documents()));
        kv.put("tokens", Long.toString(tokens));
        kv.put("data_file", PartitionStore.DATA_FILE);
        kv.put("format_version", FORMAT_VERSION);
        return kv.entrySet().stream().map(e -> e.getKey() + "=" + e.getValue() + "\n").collect(Collectors.joining());
    }

    /** The summary in {@code location/_SUCCESS}; opens no data file. */
    public static Info describe(Configuration conf, Path location) {
        location = PartitionStore.normalize(location);
        String where = DataFiles.qualified(conf, location);
        Map<String, String> kv = PartitionStore.summary(conf, location);
        if (!KIND.equals(kv.get("kind"))) {
            throw new DataException(where + " holds images, not token sequences; data.format must not be text here");
        }
        try {
            return new Info(PartitionStore.req(kv, "institute", where), PartitionStore.req(kv, "dataset", where),
                    PartitionStore.req(kv, META_TOKENIZER, where),
                    Integer.parseInt(PartitionStore.req(kv, META_VOCAB, where)),
                    Integer.parseInt(PartitionStore.req(kv, META_CONTEXT, where)),
                    Long.parseLong(PartitionStore.req(kv, "sequences", where)),
                    Long.parseLong(PartitionStore.req(kv, "documents", where)));
        } catch (NumberFormatException e) {
            throw new DataException(where + "/" + PartitionStore.SUCCESS + ": unreadable partition summary ("
                    + e.getMessage() + "); run prepare again", e);
        }
    }

    /** Checks from {@code _SUCCESS} alone that {@code location} holds a complete token share of {@code institute}. */
    public static Info requirePrepared(Configuration conf, Path location, String institute) {
        Info info = describe(conf, location);
        PartitionStore.checkOwner(info.institute(), institute, DataFiles.qualified(conf, location));
        return info;
    }

    /**
     * Reads the share at {@code location} for a task serving {@code institute}.
     *
     * @throws PlacementException if the share belongs to another institute (checked before any row is read)
     * @throws DataException      if the location is missing, incomplete or corrupt, a sequence does not hold
     *                            context + 1 tokens, or a token id is outside the vocabulary
     */
    public static TokenSequences read(Configuration conf, Path location, String institute) {
        location = PartitionStore.normalize(location);
        String where = DataFiles.qualified(conf, location);
        PartitionStore.checkOwner(describe(conf, location).institute(), institute, where);
        return readFile(conf, new Path(location, PartitionStore.DATA_FILE), institute);
    }

    /** Reads the held-out test set at {@code location}. */
    public static TokenSequences readTest(Configuration conf, Path location) {
        return read(conf, location, PartitionStore.TEST);
    }

    /** Reads one token partition file; its footer must name {@code institute}. */
    static TokenSequences readFile(Configuration conf, Path file, String institute) {
        try (ParquetImages.FileHandle h = new ParquetImages.FileHandle(conf, file)) {
            String owner = h.meta.get(ParquetImages.META_INSTITUTE);
            if (owner == null || !KIND.equals(h.meta.get("kind"))) {
                throw new DataException(h.name + ": no institute or kind=tokens in the file metadata; not a token"
                        + " partition written by prepare");
            }
            PartitionStore.checkOwner(owner, institute, h.name);
            int vocab = h.metaInt(META_VOCAB);
            int context = h.metaInt(META_CONTEXT);
            if (vocab < 0 || context < 0) {
                throw new DataException(h.name + ": metadata lacks vocab or context");
            }
            if (h.rows * (context + 1) > Integer.MAX_VALUE - 8) {
                throw new DataException(h.name + ": " + h.rows + " sequences do not fit in one in-memory dataset");
            }
            int n = (int) h.rows;
            int len = context + 1;
            int[] tokens = new int[n * len];
            long[] ids = new long[n];
            long[] docs = new long[n];
            MessageType fileSchema = h.fileSchema();
            for (String c : new String[]{SEQUENCE_ID, DOCUMENT, TOKENS}) {
                if (!fileSchema.containsField(c)) {
                    throw new DataException(h.name + ": no column '" + c + "'; expected " + schema());
                }
            }
            MessageColumnIO io = new ColumnIOFactory().getColumnIO(fileSchema);
            int row = 0;
            try {
                PageReadStore pages;
                while ((pages = h.reader.readNextRowGroup()) != null) {
                    RecordReader<Group> records = io.getRecordReader(pages, new GroupRecordConverter(fileSchema));
                    for (long r = 0; r < pages.getRowCount(); r++, row++) {
                        Group g = records.read();
                        ids[row] = g.getLong(SEQUENCE_ID, 0);
                        docs[row] = g.getLong(DOCUMENT, 0);
                        Group list = g.getGroup(TOKENS, 0);
                        int count = list.getFieldRepetitionCount("list");
                        if (count != len) {
                            throw new DataException(h.name + ": sequence " + ids[row] + " (row " + row + ") holds " + count
                                    + " tokens, but the partition's context is " + context + " (sequences of context + 1 = "
                                    + len + " tokens)" + (count > len ? ": longer than the context" : ""));
                        }
                        for (int j = 0; j < len; j++) {
                            int id = list.getGroup("list", j).getInteger("element", 0);
                            if (id < 0 || id >= vocab) {
                                throw new DataException(h.name + ": token id " + id + " in sequence " + ids[row]
                                        + " (row " + row + ", position " + j + ") is outside the vocabulary [0, " + vocab
                                        + ") of the partition");
                            }
                            tokens[row * len + j] = id;
                        }
                    }
                }
            } catch (IOException | org.apache.parquet.io.ParquetDecodingException e) {
                throw new DataException(h.name + ": corrupt Parquet data (" + e.getMessage() + ")", e);
            }
            return new TokenSequences(context, vocab, tokens, ids, docs, h.name);
        }
    }

    /** Writes one record per sequence index. */
    private static final class Support extends WriteSupport<Integer> {
        private final TokenSequences data;
        private final Map<String, String> metadata;
        private RecordConsumer out;

        Support(TokenSequences data, Map<String, String> metadata) {
            this.data = data;
            this.metadata = metadata;
        }

        @Override
        public WriteContext init(Configuration configuration) {
            return new WriteContext(schema(), metadata);
        }

        @Override
        public void prepareForWrite(RecordConsumer recordConsumer) {
            this.out = recordConsumer;
        }

        @Override
        public void write(Integer i) {
            int len = data.context() + 1;
            out.startMessage();
            out.startField(SEQUENCE_ID, 0);
            out.addLong(data.sequenceIds()[i]);
            out.endField(SEQUENCE_ID, 0);
            out.startField(DOCUMENT, 1);
            out.addLong(data.documents()[i]);
            out.endField(DOCUMENT, 1);
            out.startField(TOKENS, 2);
            out.startGroup();
            out.startField("list", 0);
            for (int j = 0; j < len; j++) {
                out.startGroup();
                out.startField("element", 0);
                out.addInteger(data.tokens()[i * len + j]);
                out.endField("element", 0);
                out.endGroup();
            }
            out.endField("list", 0);
            out.endGroup();
            out.endField(TOKENS, 2);
            out.endMessage();
        }
    }
}
