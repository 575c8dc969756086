"""Ironic's root device hints: the grammar an operator writes and the
matcher the proxy runs against a ramdisk's disk report."""

import json

from nova_bm.common import root_device_hints as hints
from tests import base

GIB = 1024 ** 3


def _disk(name, gib, **facts):
    disk = dict.fromkeys(('model', 'vendor', 'serial', 'wwn',
                          'wwn_with_extension', 'wwn_vendor_extension',
                          'hctl', 'by_path', 'rotational'))
    disk.update(name=name, size=gib * GIB, **facts)
    return disk


# A small machine: a boot SSD, two data HDDs, a small stick and a RAID
# volume, listed as a ramdisk might (not by size).
SDA = _disk('/dev/sda', 480, model='SAMSUNG MZ7LH480', vendor='ATA',
            serial='S45PNA0M123456', wwn='0x5002538e40a1b2c3',
            wwn_with_extension='0x5002538e40a1b2c3',
            hctl='0:0:0:0', rotational=False,
            by_path='/dev/disk/by-path/pci-0000:00:1f.2-ata-1')
SDB = _disk('/dev/sdb', 2000, model='ST2000NM0055', vendor='SEAGATE',
            serial='ZC20A1B2', wwn='0x5000c500a1b2c3d4',
            wwn_with_extension='0x5000c500a1b2c3d4a1b2',
            wwn_vendor_extension='0xa1b2', hctl='1:0:0:0', rotational=True,
            by_path='/dev/disk/by-path/pci-0000:00:1f.2-ata-2')
SDC = _disk('/dev/sdc', 2000, model='ST2000NM0055', vendor='SEAGATE',
            serial='ZC20C3D4', hctl='2:0:0:0', rotational=True)
SDD = _disk('/dev/sdd', 2, model='Cruzer', vendor='SanDisk',
            serial='4C530001', rotational=True)
MD0 = _disk('/dev/md0', 100, rotational=False)
DISKS = [SDB, SDA, SDC, SDD, MD0]


class GrammarTestCase(base.TestCase):

    def assertHintError(self, value, *fragments):
        error = self.assertRaises(hints.HintError, hints.parse, value)
        self.assertNotIn('\n', str(error))
        for fragment in fragments:
            self.assertIn(fragment, str(error))
        return error

    def assertParses(self, expected, value):
        parsed = hints.parse(value)
        self.assertEqual(expected, parsed)
        # What is stored parses again to itself, and stores as JSON.
        self.assertEqual(parsed, hints.parse(parsed))
        self.assertEqual(parsed, json.loads(json.dumps(parsed)))

    def test_no_hints(self):
        self.assertParses({}, {})
        self.assertEqual({}, hints.parse(None))

    def test_not_a_mapping(self):
        for bad in ([('size', 10)], 'size: 10', 10, True):
            self.assertHintError(bad, 'must be a mapping')

    def test_unknown_names_listed_with_the_known_ones(self):
        error = self.assertHintError({'size': 10, 'Model': 'x', 'tran': 'x'},
                                     "'Model'", "'tran'")
        for name in hints.NAMES:
            self.assertIn(name, str(error))
        self.assertHintError({1: 'x'}, 'unknown', '1')

    def test_at_most_one_key_per_name(self):
        many = {'x%d' % i: 'y' for i in range(1000)}
        error = self.assertHintError(many, 'at most 11')
        self.assertLess(len(str(error)), 200)

    def test_string_hints_default_to_s_equal_lower_case(self):
        for name in ('model', 'vendor', 'serial', 'wwn', 'wwn_with_extension',
                     'wwn_vendor_extension', 'hctl'):
            self.assertParses({name: 's== abc-1'}, {name: ' ABC-1 '})
        self.assertParses({'hctl': 's== 1:0:0:0'}, {'hctl': '1:0:0:0'})
        # Inner blanks are part of the value.
        self.assertParses({'model': 's== foo  model'},
                          {'model': 'Foo  Model'})

    def test_string_operators(self):
        for op in ('s==', 's!=', 's>=', 's>', 's<=', 's<', '<in>'):
            self.assertParses({'serial': '%s abc' % op},
                              {'serial': '%s  ABC ' % op})
            # Without a blank after the operator, and upper-case.
            self.assertParses({'serial': '%s abc' % op},
                              {'serial': '%sAbc' % op.upper()})

    def test_or(self):
        self.assertParses({'vendor': '<or> samsung <or> win sys'},
                          {'vendor': '<or> Samsung<OR>  win sys '})
        self.assertParses({'vendor': '<or> samsung'},
                          {'vendor': '<or> samsung'})
        for bad in ('<or> a <or>', '<or> <or> b', '<or> a <or> <or> b'):
            self.assertHintError({'vendor': bad}, 'empty alternative')

    def test_one_value_operators_take_the_rest_as_their_value(self):
        # Ironic split on the operator and used the first piece; here the
        # rest is one value, as stored and as parsed again.
        self.assertParses({'serial': 's== a s== b'}, {'serial': 's== a s== b'})
        self.assertParses({'model': 's== <foo>'}, {'model': 's== <foo>'})
        self.assertParses({'model': 's== foo <or> bar'},
                          {'model': 'foo <or> bar'})

    def test_string_hints_refuse_other_operators(self):
        for op in ('==', '!=', '>=', '>', '<=', '<', '='):
            self.assertHintError({'model': '%s 5' % op}, 'model',
                                 'operators are s== s!=', repr(op))
        self.assertHintError({'model': '<range-in> ( 1 2 )'}, 'range-in')
        self.assertHintError({'model': '<all-in> a b'}, "'<all-in>'",
                             "use '<in>' or '<or>'")

    def test_string_hints_refuse_wrong_types_and_bad_values(self):
        for bad in (12345, 1.5, True, None, ['a'], {'a': 1}):
            self.assertHintError({'serial': bad}, 'serial',
                                 'must be a string')
        for empty in ('', '   '):
            self.assertHintError({'serial': empty}, 'is empty')
        for no_value in ('s==', '<in> ', '<or>'):
            self.assertHintError({'serial': no_value}, 'no value')
        self.assertHintError({'serial': 'a\nb'}, 'control characters',
                             "'a\\nb'")
        self.assertHintError({'serial': '\x1b[2J'}, 'control characters')

    def test_value_lengths(self):
        self.assertParses({'serial': 's== ' + 'x' * 255},
                          {'serial': 'X' * 255})
        self.assertParses({'serial': '<in> ' + 'x' * 255},
                          {'serial': '<in> ' + 'x' * 255})
        error = self.assertHintError({'serial': 'x' * 256},
                                     'longer than 255')
        self.assertLess(len(str(error)), 200)
        self.assertHintError({'serial': 's== ' + 'x' * 256},
                             'longer than 255')
        self.assertHintError({'serial': '<or> a <or> ' + 'x' * 256},
                             'longer than 255')
        self.assertHintError({'serial': 'x' * 100000}, 'longer than 1024')
        # The prefix counts: what is stored must parse again.
        self.assertParses({'name': 's== /dev/' + 'x' * 250},
                          {'name': 'x' * 250})
        self.assertHintError({'name': 'x' * 251}, 'with its /dev/')
        self.assertHintError({'by_path': 'x' * 250},
                             'with its /dev/disk/by-path/')

    def test_name_and_by_path_get_their_prefix(self):
        self.assertParses({'name': 's== /dev/sda'}, {'name': 'sda'})
        self.assertParses({'name': 's== /dev/sda'}, {'name': '/dev/sda'})
        self.assertParses({'name': 's== /dev/md/root'}, {'name': 'md/root'})
        self.assertParses({'name': 's!= /dev/sda'}, {'name': 's!= sda'})
        self.assertParses({'name': '<or> /dev/sda <or> /dev/vda'},
                          {'name': '<or> sda <or> /dev/vda'})
        self.assertParses(
            {'by_path': 's== /dev/disk/by-path/pci-0000:00:04.0'},
            {'by_path': 'pci-0000:00:04.0'})
        self.assertParses(
            {'by_path': 's== /dev/disk/by-path/pci-0000:00:04.0'},
            {'by_path': '/dev/disk/by-path/pci-0000:00:04.0'})
        # <in> is a substring: no prefix.
        self.assertParses({'name': '<in> nvme'}, {'name': '<in> nvme'})
        self.assertParses({'by_path': '<in> pci-0000:00:1f.2'},
                          {'by_path': '<in> pci-0000:00:1f.2'})
        # Other hints are kept as they are.
        self.assertParses({'serial': 's== sda'}, {'serial': 'sda'})

    def test_size(self):
        self.assertParses({'size': '== 100'}, {'size': 100})
        self.assertParses({'size': '== 100'}, {'size': ' 100 '})
        for op in ('==', '!=', '>=', '>', '<=', '<'):
            self.assertParses({'size': '%s 100' % op}, {'size': '%s100' % op})
            self.assertParses({'size': '%s 100' % op},
                              {'size': ' %s  100 ' % op})
        # oslo.utils' legacy "=" means ">=".
        self.assertParses({'size': '>= 60'}, {'size': '= 60'})

    def test_size_range(self):
        self.assertParses({'size': '<range-in> ( 10 100 ]'},
                          {'size': '<range-in> ( 10 100 ]'})
        self.assertParses({'size': '<range-in> [ 0 100 )'},
                          {'size': '<RANGE-IN>[0 100)'})
        self.assertParses({'size': '<range-in> [ 5 5 ]'},
                          {'size': '<range-in> [ 5 5 ]'})
        for bad in ('<range-in> 10 100', '<range-in> ( 10 )',
                    '<range-in> ( 10 100 200 )', '<range-in> { 10 100 }',
                    '<range-in> ( 1.5 100 )', '<range-in> ( -1 100 )',
                    '<range-in>'):
            self.assertHintError({'size': bad}, 'two bounds in brackets')
        self.assertHintError({'size': '<range-in> ( 100 10 )'},
                             'lower bound is above')

    def test_size_refuses(self):
        for bad in (0, -1, '0', '-5', '>= 0', 1.5, '1.5', '10 GiB', 'x',
                    '', '>=', '== 100 == 200', '+100', '1_000', '\u0661',
                    10 ** 20, '1' * 21, 10 ** 5000):
            self.assertHintError({'size': bad}, 'size',
                                 'whole number of GiB')
        for bad in (True, False, None, [100], {'>=': 100}):
            self.assertHintError({'size': bad}, 'whole number of GiB')
        for op in ('s==', '<in>', '<or>', '<all-in>'):
            self.assertHintError({'size': '%s 100' % op},
                                 'operators are == !=', repr(op))
        self.assertHintError({'size': '1' * 2000}, 'longer than 1024')

    def test_rotational(self):
        for true in (True, 1, 'true', 'True', ' YES ', 'on', 'y', 't', '1'):
            self.assertParses({'rotational': True}, {'rotational': true})
        for false in (False, 0, 'false', 'FALSE', 'no', 'off', 'n', 'f',
                      '0'):
            self.assertParses({'rotational': False}, {'rotational': false})
        for bad in (2, -1, 1.0, None, '', 'maybe', 's== true', '== 1',
                    ['true'], 'x' * 1000):
            self.assertHintError({'rotational': bad}, 'rotational',
                                 'true or false')

    def test_keys_in_names_order(self):
        parsed = hints.parse({'name': 'sda', 'rotational': 'no',
                              'size': 10})
        self.assertEqual(['size', 'rotational', 'name'], list(parsed))

    def test_describe(self):
        self.assertEqual('serial s== abc, size >= 100',
                         hints.describe({'size': '>=100', 'serial': 'ABC'}))
        self.assertEqual('rotational false, vendor <or> a <or> b',
                         hints.describe({'vendor': '<or> a <or> b',
                                         'rotational': 'no'}))
        self.assertEqual('no hints', hints.describe({}))
        self.assertEqual('no hints', hints.describe(None))
        invalid = hints.describe({'size': 'x\n' * 1000})
        self.assertTrue(invalid.startswith('invalid hints '))
        self.assertTrue(invalid.isprintable())
        self.assertLess(len(invalid), 200)


class MatchTestCase(base.TestCase):

    def assertMatches(self, expected, value, disks=DISKS):
        names = [disk['name'] for disk in hints.match(value, disks)]
        self.assertEqual([disk['name'] for disk in expected], names)

    def test_no_hints_match_every_disk(self):
        self.assertMatches(DISKS, {})
        self.assertMatches(DISKS, None)

    def test_each_string_hint(self):
        self.assertMatches([SDA], {'model': 'samsung mz7lh480'})
        self.assertMatches([SDB, SDC], {'vendor': 'Seagate'})
        self.assertMatches([SDA], {'serial': 'S45PNA0M123456'})
        self.assertMatches([SDB], {'wwn': '0x5000C500A1B2C3D4'})
        self.assertMatches([SDB], {'wwn_with_extension':
                                   '0x5000c500a1b2c3d4a1b2'})
        self.assertMatches([SDB], {'wwn_vendor_extension': '0xa1b2'})
        self.assertMatches([SDC], {'hctl': '2:0:0:0'})
        self.assertMatches([SDA], {'by_path': 'pci-0000:00:1f.2-ata-1'})
        self.assertMatches([SDA], {'by_path':
                                   '/dev/disk/by-path/pci-0000:00:1f.2-ata-1'})
        self.assertMatches([MD0], {'name': 'md0'})
        self.assertMatches([SDD], {'name': '/dev/sdd'})
        self.assertMatches([], {'serial': 'S45PNA0M12345'})

    def test_string_operators(self):
        self.assertMatches([SDB, SDA, SDC], {'name': '<in> /dev/sd',
                                             'size': '>= 100'})
        self.assertMatches([SDB, SDC, SDD], {'serial': 's!= s45pna0m123456',
                                             'name': 's!= md0'})
        self.assertMatches([SDA, SDD], {'vendor': '<or> ATA <or> sandisk'})
        self.assertMatches([SDA, SDD], {'name': '<or> sda <or> sdd'})
        self.assertMatches([SDB, SDC], {'model': '<in> st2000'})
        self.assertMatches([SDB, SDA, SDC], {'serial': 's> s'})
        self.assertMatches([SDB, SDA, SDC, SDD], {'serial': 's>= 4C530001'})
        self.assertMatches([SDD], {'serial': 's< s'})
        self.assertMatches([SDB, SDC, SDD], {'serial': 's<= zc20c3d4',
                                             'name': '<in> sd',
                                             'rotational': True})
        self.assertMatches([SDB, SDA], {'hctl': 's<= 1:0:0:0'})
        self.assertMatches([SDC], {'hctl': 's> 1:0:0:0'})

    def test_in_is_a_substring_of_the_text_itself(self):
        # Ironic compared URL-quoted texts: '<in> 20' matched any value
        # holding a space (%20). Here it is the substring of the text.
        self.assertMatches([], {'model': '<in> 20'},
                           [_disk('/dev/sda', 10, model='A B')])
        self.assertMatches([SDB, SDC], {'model': '<in> 20'})
        self.assertMatches([SDA], {'model': '<in> g mz'})

    def test_case_and_blanks_are_ignored_on_the_disk_too(self):
        disk = _disk('/dev/sda', 10, serial='  AbC ', model='Foo  Model')
        self.assertMatches([disk], {'serial': 'abc'}, [disk])
        self.assertMatches([disk], {'serial': 'ABC'}, [disk])
        self.assertMatches([disk], {'model': 'foo  model'}, [disk])
        self.assertMatches([], {'model': 'foo model'}, [disk])

    def test_rotational(self):
        self.assertMatches([SDB, SDC, SDD], {'rotational': True})
        self.assertMatches([SDA, MD0], {'rotational': 'false'})
        # A ramdisk's other spellings of a bool are read as Ironic reads
        # them; anything else matches neither way.
        odd = [_disk('/dev/a', 10, rotational='1'),
               _disk('/dev/b', 10, rotational=0),
               _disk('/dev/c', 10, rotational='maybe'),
               _disk('/dev/d', 10, rotational=2),
               _disk('/dev/e', 10, rotational=1.0),
               _disk('/dev/f', 10, rotational=['1'])]
        self.assertMatches(odd[:1], {'rotational': True}, odd)
        self.assertMatches(odd[1:2], {'rotational': False}, odd)

    def test_size_operators(self):
        self.assertMatches([SDA], {'size': 480})
        self.assertMatches([SDA], {'size': '== 480'})
        self.assertMatches([SDB, SDC, SDD, MD0], {'size': '!= 480'})
        self.assertMatches([SDB, SDA, SDC], {'size': '>= 480'})
        self.assertMatches([SDB, SDA, SDC], {'size': '= 480'})
        self.assertMatches([SDB, SDC], {'size': '> 480'})
        self.assertMatches([SDA, SDD, MD0], {'size': '<= 480'})
        self.assertMatches([SDD, MD0], {'size': '< 480'})
        self.assertMatches([SDA, MD0], {'size': '<range-in> [ 100 480 ]'})
        self.assertMatches([SDA], {'size': '<range-in> ( 100 480 ]'})
        self.assertMatches([MD0], {'size': '<range-in> [ 100 480 )'})
        self.assertMatches([], {'size': '<range-in> ( 100 480 )'})

    def test_size_is_whole_gib_rounded_down(self):
        # 447.13 GiB: a "480 GB" SSD.
        disk = _disk('/dev/sda', 0)
        disk['size'] = 480103981056
        for match in (447, '>= 447', '<= 447', '!= 446', '< 448',
                      '<range-in> [ 447 447 ]'):
            self.assertMatches([disk], {'size': match}, [disk])
        for miss in (448, '> 447', '>= 448', '< 447', '!= 447'):
            self.assertMatches([], {'size': miss}, [disk])
        small = _disk('/dev/sdz', 0)
        small['size'] = GIB - 1
        self.assertMatches([], {'size': '>= 1'}, [small])
        self.assertMatches([small], {'size': '< 1'}, [small])

    def test_every_hint_must_match(self):
        self.assertMatches([SDB, SDC], {'vendor': 'seagate', 'size': 2000,
                                        'rotational': True})
        self.assertMatches([SDC], {'vendor': 'seagate', 'size': 2000,
                                   'serial': 'zc20c3d4'})
        self.assertMatches([], {'vendor': 'seagate', 'size': 480})
        self.assertMatches([], {'model': 'samsung mz7lh480',
                                'rotational': True})

    def test_missing_facts_match_no_hint_on_them(self):
        self.assertMatches([SDB, SDA], {'by_path': '<in> pci'})
        self.assertMatches([SDB], {'wwn_vendor_extension': 's!= 0xffff'})
        self.assertMatches([SDB, SDA], {'wwn': 's!= 0x1'})
        bare = {'name': '/dev/sdx', 'size': 10 * GIB}
        for name, value in (('model', 's!= x'), ('serial', '<in> a'),
                            ('rotational', False), ('hctl', 's< z'),
                            ('by_path', 's!= x'), ('vendor', 's> !')):
            self.assertMatches([], {name: value}, [bare])
        self.assertMatches([], {'size': '>= 1'}, [{'name': '/dev/sdx'}])
        self.assertMatches([], {'name': 's!= /dev/sda'}, [{'size': GIB}])

    def test_hostile_facts_do_not_match_nor_crash(self):
        odd = [
            {'name': '/dev/a', 'size': '10737418240', 'serial': 12345},
            {'name': '/dev/b', 'size': True, 'serial': None},
            {'name': '/dev/c', 'size': 10.0 * GIB, 'serial': ['12345']},
            {'name': '/dev/d', 'size': -GIB, 'serial': {'x': 1}},
            {'name': '/dev/e', 'size': 2 ** 200, 'serial': '   '},
            {'name': '/dev/f', 'size': 10 ** 5000,
             'serial': '1' * (hints.MAX_FACT_LENGTH + 1)},
            {'name': 12, 'size': None, 'serial': b'12345'},
            'not a disk', None, 12, ['/dev/g'],
        ]
        for value in ({'serial': '12345'}, {'serial': 's!= 0'},
                      {'serial': '<in> 1'}, {'size': '!= 10'},
                      {'size': '>= 1'}, {'rotational': False}):
            self.assertEqual([], hints.match(value, odd))
        # The disks with a name are found by it: the others are not disks.
        self.assertEqual(['/dev/a', '/dev/b', '/dev/c', '/dev/d', '/dev/e',
                          '/dev/f'],
                         [disk['name']
                          for disk in hints.match({'name': '<in> /dev/'},
                                                  odd)])
        for not_a_list in (None, 'disks', 12, {'name': '/dev/sda'}):
            self.assertEqual([], hints.match({'size': 10}, not_a_list))
            self.assertIsNone(hints.choose({'size': 10}, not_a_list))
            self.assertIsNone(hints.choose({}, not_a_list))

    def test_bounded_number_of_disks(self):
        many = [_disk('/dev/x%d' % i, 10) for i in range(
            hints.MAX_DISKS + 10)]
        self.assertEqual(hints.MAX_DISKS, len(hints.match({}, many)))
        self.assertEqual([], hints.match({'name': 'x%d' % hints.MAX_DISKS},
                                         many))

    def test_invalid_hints_raise(self):
        self.assertRaises(hints.HintError, hints.match, {'size': 'x'}, DISKS)
        self.assertRaises(hints.HintError, hints.choose, {'foo': 1}, DISKS)

    def test_given_and_stored_hints_match_alike(self):
        given = {'name': '<or> sdb <or> sdc', 'size': '=2000',
                 'model': 'ST2000NM0055'}
        stored = hints.parse(given)
        self.assertEqual(hints.match(given, DISKS),
                         hints.match(stored, DISKS))
        self.assertMatches([SDB, SDC], stored)

    def test_disks_are_returned_not_copied(self):
        self.assertIs(SDA, hints.match({'serial': 'S45PNA0M123456'},
                                       DISKS)[0])


class ChooseTestCase(base.TestCase):

    def test_first_matching_disk_in_the_given_order(self):
        self.assertIs(SDB, hints.choose({'rotational': True}, DISKS))
        self.assertIs(SDC, hints.choose({'rotational': True,
                                         'size': '>= 100'},
                                        [SDD, SDC, SDB]))
        self.assertIs(SDA, hints.choose({'size': '<= 480'}, DISKS))

    def test_none_when_no_disk_matches(self):
        self.assertIsNone(hints.choose({'serial': 'nope'}, DISKS))
        self.assertIsNone(hints.choose({'size': 2000}, [SDA, SDD]))
        self.assertIsNone(hints.choose({'size': 2000}, []))

    def test_without_hints_the_smallest_disk_of_4_gib(self):
        # Not the first listed (sdb), nor the smallest (the 2 GiB stick).
        self.assertIs(MD0, hints.choose({}, DISKS))
        self.assertIs(MD0, hints.choose(None, DISKS))
        self.assertIs(SDA, hints.choose({}, [SDB, SDA, SDD]))
        exact = _disk('/dev/sde', 4)
        self.assertEqual(hints.MIN_GUESS_BYTES, exact['size'])
        self.assertIs(exact, hints.choose({}, DISKS + [exact]))
        under = _disk('/dev/sdf', 0)
        under['size'] = hints.MIN_GUESS_BYTES - 1
        self.assertIs(MD0, hints.choose({}, [under] + DISKS))

    def test_the_minimum_size_may_be_given(self):
        self.assertIs(SDD, hints.choose({}, DISKS, min_bytes=GIB))
        self.assertIs(SDD, hints.choose({}, DISKS, min_bytes=0))
        self.assertIs(SDA, hints.choose({}, DISKS, min_bytes=101 * GIB))
        self.assertIsNone(hints.choose({}, DISKS, min_bytes=2001 * GIB))
        # Hints alone decide when there are some.
        self.assertIs(SDD, hints.choose({'size': 2}, DISKS,
                                        min_bytes=100 * GIB))

    def test_without_hints_ties_go_to_the_first_name(self):
        # IPA's guess_root_disk sorts by (size, name).
        self.assertIs(SDB, hints.choose({}, [SDC, SDB]))
        self.assertIs(SDB, hints.choose({}, [SDB, SDC]))
        unnamed = _disk(None, 2000)
        self.assertIs(SDC, hints.choose({}, [unnamed, SDC]))

    def test_without_hints_none_when_every_disk_is_smaller(self):
        self.assertIsNone(hints.choose({}, [SDD]))
        self.assertIsNone(hints.choose({}, []))
        odd = [{'name': '/dev/a', 'size': '100000000000'},
               {'name': '/dev/b', 'size': True},
               {'name': '/dev/c', 'size': 1e12}, {'name': '/dev/d'},
               {'name': '/dev/e', 'size': 2 ** 70}, 'x', None]
        self.assertIsNone(hints.choose({}, odd))
