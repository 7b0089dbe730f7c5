# 2026-10-06 10:21:44 by RouterOS 7.15.3
# software id = 8AZK-KD3T
#
# model = RB951Ui-2HnD
# serial number = A1B20C3D4E5F
/interface bridge
add name=bridge-lan
/ip address
add address=10.251.0.234/30 comment="dist-bansari--r-kalilor to dist-bansari" interface=ether1
add address=192.168.88.1/24 interface=bridge-lan
/ip firewall address-list
add address=10.250.0.0/24 list=simpul-noc
/ip service
set telnet disabled=yes
set ssh address=0.0.0.0/0
/routing ospf instance
add name=simpul router-id=10.251.0.234 version=2
/routing ospf area
add area-id=0.0.0.0 instance=simpul name=area0
/routing ospf interface-template
add area=area0 dead-interval=4s hello-interval=1s interfaces=ether1 type=ptp
/system identity
set name=r-kalilor
/user
add name=simpul group=full password="rahasia-lama"
