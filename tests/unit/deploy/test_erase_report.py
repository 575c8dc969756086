"""A cleaning ramdisk's erase report, read as hostile input (parse), and
whether it is the erase a clean mode requires (judge)."""

import testtools

from nova_bm.common import states
from nova_bm.deploy import disk_facts
from nova_bm.deploy import erase_report

GIB = 1 << 30


def line(name='/dev/sda', method='metadata', nbytes=92274688, seconds='1.20',
         verified=8, note=None, **extra):
    """A disk line as nova_bm/ramdisk/init's erase_disk prints it."""
    words = ['disk', 'name=%s' % name, 'method=%s' % method,
             'bytes=%s' % nbytes, 'seconds=%s' % seconds,
             'verified=%s' % verified]
    if note is not None:
        words.append('note=%s' % note)
    words += ['%s=%s' % pair for pair in extra.items()]
    return ' '.join(words)


def body(*lines, status='status=ok'):
    return ('\n'.join((status,) + lines) + '\n').encode('ascii')


class ParseTestCase(testtools.TestCase):

    def assertMalformed(self, data, text):
        error = self.assertRaises(erase_report.Malformed, erase_report.parse,
                                  data)
        self.assertIn(text, str(error))
        self.assertEqual(1, len(str(error).splitlines()), str(error))
        return error

    def test_the_ramdisks_lines_are_read(self):
        # What erase_disk prints: printf, then fact note (percent-encoded,
        # as the shell's encode() does it: every byte, lower-case hex).
        note = ''.join('%%%02x' % ord(c)
                       for c in 'no hardware secure erase: not an NVMe disk')
        status, error, entries = erase_report.parse(body(
            line('/dev/nvme0n1', 'nvme-format', 268435456, '0.41', 17),
            line('/dev/vda', 'metadata', 92274688, '1.20', 8, note=note)))
        self.assertEqual((states.DONE, None), (status, error))
        self.assertEqual([
            {'name': '/dev/nvme0n1', 'method': 'nvme-format',
             'bytes': 268435456, 'seconds': 0.41, 'verified': 17,
             'note': None},
            {'name': '/dev/vda', 'method': 'metadata', 'bytes': 92274688,
             'seconds': 1.2, 'verified': 8,
             'note': 'no hardware secure erase: not an NVMe disk'}],
            entries)

    def test_every_method_and_a_disk_less_report(self):
        for method in erase_report.METHODS:
            _, _, entries = erase_report.parse(body(line(method=method)))
            self.assertEqual(method, entries[0]['method'])
        # A machine without disks: a status line alone.
        self.assertEqual((states.DONE, None, []),
                         erase_report.parse(b'status=ok\n'))
        # Blank lines and CRLF are no disk.
        self.assertEqual(1, len(erase_report.parse(
            b'status=ok\r\n\r\n' + line().encode() + b'\r\n\n')[2]))

    def test_a_failed_erase_says_why_decoded(self):
        status, error, entries = erase_report.parse(body(
            line('/dev/sda', 'failed', 0, '0.02', 0,
                 note='cannot%20write%20sda'),
            status='status=failed error=not%20erased:%20sda'))
        self.assertEqual((states.FAILED, 'not erased: sda'), (status, error))
        self.assertEqual(('failed', 'cannot write sda'),
                         (entries[0]['method'], entries[0]['note']))
        # Without an error: a reason all the same.
        status, error, _ = erase_report.parse(b'status=failed\n')
        self.assertEqual((states.FAILED, 'no reason given'), (status, error))

    def test_an_error_with_control_characters_never_comes_through(self):
        # Escaped: the report (and its disk lines) still count.
        _, error, _ = erase_report.parse(
            b'status=failed error=a%1b[2Jb%0aforged\n')
        self.assertNotIn('\x1b', error)
        self.assertNotIn('\n', error)

    def test_size_encoding_and_emptiness(self):
        self.assertMalformed(b'status=ok\n' + b' ' * erase_report.MAX_BODY,
                             'larger than')
        self.assertMalformed(body(line(note='caf')).replace(
            b'caf', b'caf\xc3\xa9'), 'not ASCII')
        self.assertMalformed(body(line()).replace(b'sda', b'sd\xff'),
                             'not ASCII')
        self.assertMalformed('status=ok\ndisk name=/dev/sd\u00e9\n'.encode(),
                             'not ASCII')
        self.assertMalformed(b'', 'empty')
        self.assertMalformed(b'\n  \n\t\n', 'empty')

    def test_the_status_line(self):
        for head in (b'status=done', b'status=', b'status', b'ok',
                     b'error=x', b'disk name=/dev/sda status=ok',
                     b'status=OK'):
            self.assertRaises(erase_report.Malformed, erase_report.parse,
                              head + b'\n')
        self.assertMalformed(b'status=ok status=ok\n', 'twice')
        self.assertMalformed(b'status=ok sha256=ab\n', 'unknown field')
        # The first line is the status line: a disk line first is refused.
        self.assertRaises(erase_report.Malformed, erase_report.parse,
                          (line() + '\nstatus=ok\n').encode())

    def test_disk_lines_that_are_not_the_ramdisks(self):
        self.assertMalformed(body(line(serial='S1')), 'unknown field')
        self.assertMalformed(body(line() + ' verified'), 'unknown field')
        self.assertMalformed(body(line() + ' name=/dev/sdb'), 'twice')
        self.assertMalformed(body(line(), line(verified=3)), 'twice')
        self.assertMalformed(body('disks ' + line()[5:]), 'disk')
        self.assertMalformed(body('status=ok'), 'disk')
        for name in ('sda', '/dev/', '/devsda', '/dev/../etc/x y',
                     '/dev/%0a', '/sys/block/sda', ''):
            self.assertRaises(erase_report.Malformed, erase_report.parse,
                              body(line(name=name)))
        # The hidden per-path node of a multipath NVMe namespace.
        self.assertMalformed(body(line(name='/dev/nvme0c0n1')), '/dev name')
        self.assertMalformed(body(line(name='/dev/nvme12c3n45')), '/dev name')
        # ... while the namespace itself is a disk.
        erase_report.parse(body(line(name='/dev/nvme0n1')))

    def test_methods_and_numbers(self):
        for method in ('secure-erase', 'METADATA', '', 'none'):
            self.assertMalformed(body(line(method=method)), 'method')
        missing = ' '.join(w for w in line().split()
                           if not w.startswith('method='))
        self.assertMalformed(body(missing), 'method')
        for key in ('nbytes', 'verified'):
            field = 'bytes' if key == 'nbytes' else key
            for value in ('-1', '1.5', '0x10', 'ten', '', '1e3',
                          '9' * 20, '%31'):
                if value == '%31':
                    # Percent-decoded first: "%31" is "1", a number.
                    erase_report.parse(body(line(**{key: value})))
                    continue
                self.assertMalformed(body(line(**{key: value})),
                                     '%s of /dev/sda must be a number'
                                     % field)
            words = [w for w in line().split()
                     if not w.startswith(field + '=')]
            self.assertMalformed(body(' '.join(words)), 'must be a number')

    def test_seconds_is_a_bounded_duration(self):
        for value in ('-1', '1e3', 'inf', 'nan', '1.', '.5', '1.1234567',
                      '12345678', '', 'P1D'):
            self.assertMalformed(body(line(seconds=value)),
                                 'seconds of /dev/sda must be a duration')
        self.assertMalformed(
            body(line(seconds=str(erase_report.MAX_SECONDS + 1))),
            'must be a duration')
        self.assertMalformed(
            body(line(seconds='%d.5' % erase_report.MAX_SECONDS)),
            'must be a duration')
        _, _, entries = erase_report.parse(
            body(line(seconds=str(erase_report.MAX_SECONDS))))
        self.assertEqual(float(erase_report.MAX_SECONDS),
                         entries[0]['seconds'])
        words = [w for w in line().split() if not w.startswith('seconds=')]
        self.assertMalformed(body(' '.join(words)), 'must be a duration')

    def test_notes_are_bounded_and_printable(self):
        longest = 'x' * erase_report.MAX_NOTE
        self.assertEqual(longest, erase_report.parse(
            body(line(note=longest)))[2][0]['note'])
        self.assertMalformed(body(line(note=longest + 'x')),
                             'longer than %d' % erase_report.MAX_NOTE)
        # Encoded, a note is longer on the wire: its decoded length counts.
        self.assertEqual(erase_report.MAX_NOTE, len(erase_report.parse(
            body(line(note='%41' * erase_report.MAX_NOTE)))[2][0]['note']))
        # Words of the ramdisk's tools: an unprintable one is escaped
        # (the report and its proof still count), never kept raw.
        for hostile, escaped in (('a%1b[2Jb', 'a\\x1b[2Jb'),
                                 ('a%0ab', 'a\\nb'), ('a%0db', 'a\\rb'),
                                 ('a%00b', 'a\\x00b'), ('a%7fb', 'a\\x7fb'),
                                 ('a%09b', 'a\\tb'),
                                 ('a%c2%9bb', 'a\\x9bb'),
                                 ('a%e2%80%aeb', 'a\\u202eb')):
            status, _, entries = erase_report.parse(body(line(note=hostile)))
            self.assertEqual(states.DONE, status)
            self.assertEqual(escaped, entries[0]['note'], hostile)
            self.assertTrue(entries[0]['note'].isprintable())
        # Escaped within its bound: the longest note all unprintable.
        note = erase_report.parse(body(line(
            note='%1b' * erase_report.MAX_NOTE)))[2][0]['note']
        # (an escape is four characters: cut again, marked).
        self.assertEqual('\\x1b' * (erase_report.MAX_NOTE // 4) + '…', note)
        # Any other field holding one is still refused.
        self.assertMalformed(body(line(name='/dev/sd%1ba')), 'unprintable')
        self.assertMalformed(body(line(method='meta%0adata')), 'unprintable')

    def test_error_is_bounded(self):
        # Cut, never refused: the report's disk lines still count.
        _, error, _ = erase_report.parse(
            b'status=failed error=' + b'x' * (erase_report.MAX_NOTE + 50))
        self.assertEqual('x' * erase_report.MAX_NOTE + '…', error)
        # Escaped, never refused either.
        self.assertEqual(
            ('failed', 'a\\x1bb\\nforged'),
            erase_report.parse(b'status=failed error=a%1bb%0aforged\n')[:2])

    def test_at_most_max_disks(self):
        lines = [line(name='/dev/sd%d' % i)
                 for i in range(disk_facts.MAX_DISKS)]
        self.assertEqual(disk_facts.MAX_DISKS,
                         len(erase_report.parse(body(*lines))[2]))
        self.assertMalformed(body(*lines, line(name='/dev/sdx')),
                             'more than %d disks' % disk_facts.MAX_DISKS)

    def test_the_ramdisks_report_when_every_disk_failed(self):
        # nova_bm/ramdisk/init: status=failed error=$(encode "not erased:
        # $failed"), $failed the comma-separated names of every disk that
        # failed. A 24-bay NVMe machine whose erases all failed says so;
        # the proxy must take that report (and its per-disk lines), not
        # refuse it and wait clean_timeout for one that never comes.
        names = ['nvme%dn1' % i for i in range(24)]
        failed = ','.join(names)
        error = ''.join('%%%02x' % ord(c) if c in ' ,' else c
                        for c in 'not erased: %s' % failed)
        lines = [line('/dev/' + name, 'failed', 0, '0.10', 0,
                      note='cannot%20write%20' + name) for name in names]
        status, said, entries = erase_report.parse(
            body(*lines, status='status=failed error=%s' % error))
        self.assertEqual(states.FAILED, status)
        self.assertIn('nvme0n1', said)
        self.assertEqual(24, len(entries))


def disk(name='/dev/sda', size=8 * GIB, serial=None, wwn=None, model=None):
    """A disk of the disk report (disk_facts.parse, as the job keeps it)."""
    return {'name': name, 'size': size, 'serial': serial, 'wwn': wwn,
            'model': model}


def entry(name='/dev/sda', method='metadata', nbytes=92274688, seconds=1.2,
          verified=8, note=None):
    """An entry of the erase report (parse)."""
    return {'name': name, 'method': method, 'bytes': nbytes,
            'seconds': seconds, 'verified': verified, 'note': note}


MODES = (states.CLEAN_METADATA, states.CLEAN_EXPRESS, states.CLEAN_FULL)


class JudgeTestCase(testtools.TestCase):

    def good(self, mode, name='/dev/sda', size=8 * GIB):
        """An entry each mode takes of a disk of ``size``."""
        if mode == states.CLEAN_METADATA:
            return entry(name, 'metadata', 92274688)
        if mode == states.CLEAN_EXPRESS:
            return entry(name, 'nvme-format', size, verified=17)
        return entry(name, 'overwrite', size, verified=17)

    def test_an_all_good_report_has_no_problem(self):
        disks = [disk('/dev/sda', 8 * GIB, 'S1', model='QEMU'),
                 disk('/dev/nvme0n1', 4 * GIB, 'NV1', '0x5000c5001')]
        for mode in MODES:
            entries = [self.good(mode, d['name'], d['size']) for d in disks]
            proof, problems = erase_report.judge(mode, disks, entries)
            self.assertEqual([], problems, mode)
            self.assertEqual(['/dev/sda', '/dev/nvme0n1'],
                             [record['name'] for record in proof])
            self.assertEqual(
                {'name': '/dev/nvme0n1', 'size': 4 * GIB, 'serial': 'NV1',
                 'wwn': '0x5000c5001', 'model': None,
                 'method': entries[1]['method'],
                 'bytes': entries[1]['bytes'], 'seconds': 1.2,
                 'verified': entries[1]['verified'], 'note': None},
                proof[1])
        # Every mode takes a hardware erase and an overwrite of every byte.
        for mode in MODES:
            for method in ('nvme-format', 'overwrite'):
                self.assertEqual([], erase_report.judge(
                    mode, [disk()], [entry(method=method, nbytes=8 * GIB)])[1])

    def test_no_disk_is_a_problem(self):
        # An image node has at least its image's disk: none seen is a
        # controller the ramdisk could not drive, never an erase done.
        for mode in MODES:
            self.assertEqual(
                ([], ['the ramdisk found no disk to erase']),
                erase_report.judge(mode, [], []))
            # Nor do entries for no reported disk make it one.
            proof, problems = erase_report.judge(mode, [],
                                                 [self.good(mode)])
            self.assertEqual([], proof)
            self.assertEqual('the ramdisk found no disk to erase',
                             problems[0])
            self.assertIn('not reported as a disk', problems[1])
        # Known disks missing too: each said.
        _, problems = erase_report.judge(
            states.CLEAN_METADATA, [], [], [disk(serial='S1')])
        self.assertEqual(['the ramdisk found no disk to erase',
                          '/dev/sda (S1) was seen at an earlier cleaning '
                          'and is missing now'], problems)

    def test_a_disk_not_reported_is_a_problem_and_proved_failed(self):
        disks = [disk('/dev/sda', serial='S1'), disk('/dev/sdb', serial='S2')]
        for mode in MODES:
            proof, problems = erase_report.judge(
                mode, disks, [self.good(mode, '/dev/sda')])
            self.assertEqual(1, len(problems), problems)
            self.assertIn('/dev/sdb', problems[0])
            self.assertIn('not reported erased', problems[0])
            self.assertEqual([self.good(mode)['method'], 'failed'],
                             [record['method'] for record in proof])
            self.assertEqual('S2', proof[1]['serial'])

    def test_an_entry_for_no_reported_disk_is_a_problem(self):
        for mode in MODES:
            proof, problems = erase_report.judge(
                mode, [disk('/dev/sda')],
                [self.good(mode, '/dev/sda'), self.good(mode, '/dev/sdz')])
            self.assertEqual(1, len(problems), problems)
            self.assertIn('/dev/sdz', problems[0])
            self.assertIn('not reported as a disk', problems[0])
            # The proof is of the disk report's disks only.
            self.assertEqual(['/dev/sda'], [r['name'] for r in proof])

    def test_a_failed_disk_is_a_problem_with_its_note(self):
        for mode in MODES:
            proof, problems = erase_report.judge(
                mode, [disk()], [entry(method='failed', nbytes=0, verified=0,
                                       note='cannot write sda')])
            self.assertEqual(1, len(problems))
            self.assertIn('/dev/sda', problems[0])
            self.assertIn('cannot write sda', problems[0])
            self.assertEqual(('failed', 'cannot write sda'),
                             (proof[0]['method'], proof[0]['note']))
            _, problems = erase_report.judge(
                mode, [disk()], [entry(method='failed', nbytes=0,
                                       verified=0)])
            self.assertEqual(1, len(problems))
            self.assertIn('/dev/sda', problems[0])

    def test_full_refuses_a_metadata_erase(self):
        for note in (None, 'no hardware secure erase: not an NVMe disk'):
            proof, problems = erase_report.judge(
                states.CLEAN_FULL, [disk()], [entry(note=note)])
            self.assertEqual(1, len(problems))
            self.assertIn('/dev/sda', problems[0])
            self.assertIn('metadata', problems[0])
            self.assertEqual('metadata', proof[0]['method'])

    def test_a_whole_disk_erase_must_cover_the_whole_disk(self):
        for mode in MODES:
            for method in ('overwrite', 'nvme-format'):
                for nbytes in (8 * GIB - 512, 8 * GIB + 512, 0):
                    _, problems = erase_report.judge(
                        mode, [disk()], [entry(method=method, nbytes=nbytes,
                                               verified=17)])
                    self.assertEqual(1, len(problems), (mode, nbytes))
                    self.assertIn('/dev/sda', problems[0])

    def test_a_metadata_erase_is_of_something_within_the_disk(self):
        for nbytes in (0, 8 * GIB + 1):
            _, problems = erase_report.judge(
                states.CLEAN_METADATA, [disk()], [entry(nbytes=nbytes)])
            self.assertEqual(1, len(problems), nbytes)
        self.assertEqual([], erase_report.judge(
            states.CLEAN_METADATA, [disk()], [entry(nbytes=8 * GIB)])[1])

    def test_express_takes_metadata_only_with_a_reason(self):
        _, problems = erase_report.judge(states.CLEAN_EXPRESS, [disk()],
                                         [entry()])
        self.assertEqual(1, len(problems))
        self.assertIn('/dev/sda', problems[0])
        self.assertIn('express', problems[0])
        proof, problems = erase_report.judge(
            states.CLEAN_EXPRESS, [disk()],
            [entry(note='no hardware secure erase: not an NVMe disk')])
        self.assertEqual([], problems)
        self.assertEqual('no hardware secure erase: not an NVMe disk',
                         proof[0]['note'])
        # metadata mode needs no reason.
        self.assertEqual([], erase_report.judge(
            states.CLEAN_METADATA, [disk()], [entry()])[1])

    def test_nothing_read_back_is_refused(self):
        for mode in MODES:
            good = self.good(mode)
            good['verified'] = 0
            if mode == states.CLEAN_EXPRESS:
                good['note'] = 'why'
            _, problems = erase_report.judge(mode, [disk()], [good])
            self.assertEqual(1, len(problems), mode)
            self.assertIn('read back', problems[0])
        _, problems = erase_report.judge(
            states.CLEAN_EXPRESS, [disk()],
            [entry(verified=0, note='no hardware secure erase')])
        self.assertEqual(1, len(problems))

    def test_previous_disks_must_still_be_there(self):
        now = [disk('/dev/sda', serial='S1'),
               disk('/dev/sdb', wwn='0x5000c500aaaa')]
        entries = [entry('/dev/sda'), entry('/dev/sdb')]
        previous = [
            # Names move across boots: found by serial / WWN.
            dict(disk('/dev/sdb', serial='S1'), method='metadata'),
            dict(disk('/dev/sda', wwn='0x5000c500aaaa'), method='metadata'),
        ]
        self.assertEqual([], erase_report.judge(
            states.CLEAN_METADATA, now, entries, previous)[1])
        gone = previous + [
            dict(disk('/dev/sdc', serial='GONE-1'), method='metadata'),
            dict(disk('/dev/sdd', wwn='0x5000c500dead'), method='metadata'),
            # Neither serial nor WWN: nothing names it across boots.
            dict(disk('/dev/sde'), method='metadata'),
            dict(disk('/dev/sda', size=1 * GIB), method='metadata'),
        ]
        _, problems = erase_report.judge(states.CLEAN_METADATA, now, entries,
                                         gone)
        self.assertEqual(
            ['/dev/sdc (GONE-1) was seen at an earlier cleaning and is '
             'missing now',
             '/dev/sdd (0x5000c500dead) was seen at an earlier cleaning '
             'and is missing now'], problems)
        # None and () are no previous disks.
        for nothing in (None, ()):
            self.assertEqual([], erase_report.judge(
                states.CLEAN_METADATA, now, entries, nothing)[1])

    def test_known_disks_are_the_union_by_wwn_or_serial(self):
        previous = [{'name': '/dev/sdb', 'serial': 'S1', 'wwn': None},
                    {'name': '/dev/sdc', 'serial': 'GONE', 'wwn': None}]
        proof = [
            # S1 under another name now: one disk, its name of now.
            dict(disk('/dev/sda', serial='S1', model='QEMU'),
                 method='metadata', note=None),
            dict(disk('/dev/nvme0n1', serial='NV1', wwn='0x5000c5001'),
                 method='nvme-format'),
            # Neither: nothing names it at the next boot.
            dict(disk('/dev/vda'), method='metadata'),
        ]
        self.assertEqual(
            [{'name': '/dev/nvme0n1', 'serial': 'NV1',
              'wwn': '0x5000c5001'},
             {'name': '/dev/sdc', 'serial': 'GONE', 'wwn': None},
             {'name': '/dev/sda', 'serial': 'S1', 'wwn': None}],
            erase_report.known_disks(previous, proof))
        # Sorted, whatever the order they came in; each once.
        self.assertEqual(erase_report.known_disks(previous, proof),
                         erase_report.known_disks(
                             list(reversed(previous)) + previous,
                             list(reversed(proof))))
        for nothing in (None, ()):
            self.assertEqual([], erase_report.known_disks(nothing, nothing))
            self.assertEqual(previous[1:], erase_report.known_disks(
                nothing, previous[1:]))
        # What judge takes: the known disks, all there, no problem.
        known = erase_report.known_disks(previous[:1], proof)
        now = [disk('/dev/sdb', serial='S1'),
               disk('/dev/sda', serial='NV1', wwn='0x5000c5001')]
        self.assertEqual([], erase_report.judge(
            states.CLEAN_METADATA, now,
            [entry('/dev/sdb'), entry('/dev/sda')], known)[1])

    def test_identity_comes_from_the_disk_report(self):
        # The erase report cannot name a disk's serial, WWN, model or size:
        # even an entry dict carrying them does not reach the proof.
        hostile = dict(entry('/dev/sda'), serial='FORGED', wwn='0xforged',
                       model='FORGED', size=1)
        proof, problems = erase_report.judge(
            states.CLEAN_METADATA,
            [disk('/dev/sda', 8 * GIB, 'S1', '0x5000c5001', 'QEMU HDD')],
            [hostile])
        self.assertEqual([], problems)
        self.assertEqual(('/dev/sda', 8 * GIB, 'S1', '0x5000c5001',
                          'QEMU HDD'),
                         tuple(proof[0][k] for k in ('name', 'size', 'serial',
                                                     'wwn', 'model')))
        self.assertEqual(set(erase_report.FIELDS) | {'size', 'serial', 'wwn',
                                                     'model'},
                         set(proof[0]))

    def test_problems_of_many_disks_are_each_named(self):
        disks = [disk('/dev/sd%s' % c) for c in 'abc']
        entries = [entry('/dev/sda', method='failed', nbytes=0, verified=0,
                         note='x'),
                   entry('/dev/sdb', verified=0)]
        _, problems = erase_report.judge(states.CLEAN_METADATA, disks,
                                         entries)
        self.assertEqual(3, len(problems), problems)
        for name, problem in zip(('/dev/sda', '/dev/sdb', '/dev/sdc'),
                                 problems, strict=True):
            self.assertIn(name, problem)
